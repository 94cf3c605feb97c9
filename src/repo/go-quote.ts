/**
 * restic stores node names Go-quoted inside the JSON string (restic's `Node.MarshalJSON` applies
 * `strconv.Quote` and drops the outer quotes; `UnmarshalJSON` undoes it). So a name containing a
 * newline is stored as the two characters `\n`, a backslash as `\\`. These two functions are
 * JavaScript counterparts of Go's `strconv.Quote` (without the outer quotes) and `Unquote`.
 */

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const SHORT_ESCAPES: Record<number, string> = {
  0x07: '\\a', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x0b: '\\v',
};

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

export function goQuote(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'; // lone surrogate: not valid UTF-8 in Go either
    else if (PRINTABLE.test(ch)) out += ch;
    else if (SHORT_ESCAPES[cp]) out += SHORT_ESCAPES[cp];
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + hex(cp, 2);
    else if (cp < 0x10000) out += '\\u' + hex(cp, 4);
    else out += '\\U' + hex(cp, 8);
  }
  return out;
}

const SIMPLE: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };

/** Inverse of `goQuote`; throws on a malformed escape (a damaged or hostile tree). */
export function goUnquote(s: string): string {
  if (!s.includes('\\')) return s;
  const bytes: number[] = [];
  const pushString = (str: string): void => {
    for (const b of Buffer.from(str, 'utf8')) bytes.push(b);
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      pushString(ch);
      i += ch.length - 1;
      continue;
    }
    const e = s[++i];
    if (e === undefined) throw new Error('invalid escape at end of name');
    if (e in SIMPLE) {
      bytes.push(SIMPLE[e]!);
    } else if (e === 'x') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Error(`invalid \\x escape in name`);
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const h = s.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) throw new Error(`invalid \\${e} escape in name`);
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff) throw new Error('invalid code point in name');
      pushString(String.fromCodePoint(cp));
      i += n;
    } else if (e >= '0' && e <= '7') {
      const o = s.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) throw new Error('invalid octal escape in name');
      bytes.push(parseInt(o, 8));
      i += 2;
    } else {
      throw new Error(`invalid escape \\${e} in name`);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
