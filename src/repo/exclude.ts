/**
 * Exclude patterns with restic's `--exclude` / `--iexclude` semantics (restic `internal/filter`,
 * `filter.List`), so that `coffer backup --exclude P` skips exactly what `restic backup --exclude P`
 * skips. Re-implemented from restic's documentation and behaviour, checked against the real binary
 * (see exclude.test.ts).
 *
 * Semantics, in brief:
 *
 * - A pattern is `filepath.Clean`ed (duplicate `/`, `.` and `..` components, trailing `/` removed)
 *   and split at `/`. The path it is tested against is split the same way; paths are expected to be
 *   absolute and clean (what the archiver produces), they are not cleaned here.
 * - A pattern starting with `/` is anchored: it must match a *prefix* of the path's components.
 *   `/home/user/cache` therefore matches `/home/user/cache` and everything below it.
 * - Any other pattern must match some *contiguous run* of the path's components, at any depth, and
 *   the run need not end at the last component. `foo` matches `/a/foo` and `/a/foo/b/c`, but not
 *   `/a/foobar`; `foo/bar` matches `/x/foo/bar/y`; `*.log` matches `/a/x.log` (and `/a/x.log/y`).
 * - Within one component: Go `filepath.Match` syntax — `*` (any run of characters), `?` (one
 *   character), `[abc]`, `[a-z]`, `[^a-z]` (negation is `^` only: Go treats `[!a]` as the set
 *   {`!`, `a`}), `\x` escapes `x`. Matching is per Unicode code point.
 * - A component that is exactly `**` matches zero or more whole components. (`a**` is just `a*`.)
 *   The pattern `/` cleans to the root followed by an implicit `**`, so it matches everything, as in
 *   restic. A pattern consisting only of `**` matches everything.
 * - `!pattern` negates: patterns are applied in order, a matching positive pattern excludes, a
 *   matching negated pattern re-includes. Equivalently, the last pattern that matches the path
 *   decides; if none matches, the path is kept. Because a walker never descends into an excluded
 *   directory, `!` can only bring back entries whose parent directories are themselves kept:
 *   exclude `$HOME/*` plus `!$HOME/Documents`, not `$HOME` plus `!$HOME/Documents`.
 *   restic 0.14.0 (the oldest version checked) already behaves this way; it is not a 0.16 feature.
 * - Empty patterns are ignored.
 * - Invalid patterns (per Go's `filepath.Match`: unterminated or empty `[...]`, `[]a]`, `[a-]`,
 *   trailing `\`, ...) are rejected when compiling, as restic ≥ 0.14 does before starting a backup
 *   ("invalid pattern(s) provided"). A reversed range such as `[z-a]` is valid and matches nothing.
 * - Case-insensitive mode (`--iexclude`) lower-cases both the patterns and the path (per code point,
 *   like Go's `strings.ToLower`) and matches case-sensitively.
 * - Environment variables are *not* expanded in `--exclude` arguments by restic (the shell does
 *   that; `--exclude '$HOME'` matches a file literally named `$HOME`). restic expands them only in
 *   `--exclude-file` contents, where `$$` is a literal `$`: see {@link parseExcludeFile} and
 *   {@link expandPatternEnv}, or pass `expandEnv` to {@link compileExcludes}.
 * - restic evaluates `--exclude` and `--iexclude` as two independent lists (a path excluded by
 *   either is excluded; a `!` in one list cannot re-include what the other excluded). Compile them
 *   separately and join them with {@link combineExcludes}. Patterns from `--exclude-file` are
 *   appended after the `--exclude` arguments (order matters for `!`).
 */

export interface ExcludeMatcher {
  /** True when the entry at `absPath` (absolute, clean, `/`-separated) is to be skipped. */
  excludes(absPath: string): boolean;
}

export interface CompileExcludesOptions {
  /** restic's `--iexclude`: ignore letter case in both patterns and paths. */
  caseInsensitive?: boolean;
  /**
   * Expand `$VAR` / `${VAR}` in each pattern first (restic does this for `--exclude-file` lines, not
   * for `--exclude` arguments). `true` uses `process.env`; an object supplies the variables.
   */
  expandEnv?: boolean | Readonly<Record<string, string | undefined>>;
}

/** An exclude pattern that is not valid `filepath.Match` syntax. */
export class ExcludePatternError extends Error {
  readonly pattern: string;
  constructor(pattern: string, reason: string) {
    super(`invalid exclude pattern ${JSON.stringify(pattern)}: ${reason}`);
    this.name = 'ExcludePatternError';
    this.pattern = pattern;
  }
}

// ---------------------------------------------------------------------------------------------
// Compiled representation

const LITERAL = 0;
const GLOB = 1;
const DSTAR = 2;

type Part =
  | { readonly kind: typeof LITERAL; readonly text: string }
  | {
      readonly kind: typeof GLOB;
      readonly re: RegExp;
      /** Set when the component pattern is "*" + plain text ("*.log"). */
      readonly suffix?: string;
      /** Set when the component pattern is plain text + "*" ("cache*"). */
      readonly prefix?: string;
    }
  | { readonly kind: typeof DSTAR };

/** Tests one path; `comps` splits the path at `/` (computed at most once per `excludes` call). */
type Tester = (path: string, comps: () => string[]) => boolean;

interface CompiledPattern {
  readonly negated: boolean;
  readonly test: Tester;
}

const NEVER: ExcludeMatcher = { excludes: () => false };

export function compileExcludes(patterns: readonly string[], opts: CompileExcludesOptions = {}): ExcludeMatcher {
  const ci = opts.caseInsensitive === true;
  const env = opts.expandEnv === true ? process.env : opts.expandEnv || undefined;
  const compiled: CompiledPattern[] = [];
  for (const original of patterns) {
    let pat = env ? expandPatternEnv(original, env) : original;
    if (pat === '') continue; // restic ignores empty patterns
    if (ci) pat = goToLower(pat);
    compiled.push(compilePattern(pat, original));
  }
  if (compiled.length === 0) return NEVER;

  // The last matching pattern decides, so scan from the end. Without negations the order is
  // irrelevant and the first hit wins.
  compiled.reverse();
  const n = compiled.length;
  const hasNegation = compiled.some((c) => c.negated);

  return {
    excludes(absPath: string): boolean {
      const p = ci ? goToLower(absPath) : absPath;
      let split: string[] | undefined;
      const comps = (): string[] => (split ??= p.split('/'));
      if (!hasNegation) {
        for (let i = 0; i < n; i++) if (compiled[i]!.test(p, comps)) return true;
        return false;
      }
      for (let i = 0; i < n; i++) {
        const c = compiled[i]!;
        if (c.test(p, comps)) return !c.negated;
      }
      return false;
    },
  };
}

/** A path is excluded when any of the matchers excludes it (restic's `--exclude` + `--iexclude`). */
export function combineExcludes(matchers: readonly ExcludeMatcher[]): ExcludeMatcher {
  const ms = matchers.filter((m) => m !== NEVER);
  if (ms.length === 0) return NEVER;
  if (ms.length === 1) return ms[0]!;
  return { excludes: (p) => ms.some((m) => m.excludes(p)) };
}

function compilePattern(pat: string, original: string): CompiledPattern {
  let negated = false;
  if (pat.charCodeAt(0) === 0x21 /* ! */) {
    negated = true;
    pat = pat.slice(1);
  }
  const cleaned = cleanPath(pat);
  const raw = cleaned.split('/');
  const anchored = raw[0] === '';
  if (anchored) raw.shift(); // the root; for the pattern "/" this leaves [""], treated as "**" (as restic)
  const parts: Part[] = raw.map((s) => compilePart(s, original));
  return { negated, test: makeTester(anchored, parts) };
}

const GLOB_META = /[\\[\]*?]/;
const STAR_SUFFIX = /^\*[^\\[\]*?]+$/;
const PREFIX_STAR = /^[^\\[\]*?]+\*$/;

function compilePart(s: string, original: string): Part {
  if (s === '**' || s === '') return { kind: DSTAR };
  if (!GLOB_META.test(s)) return { kind: LITERAL, text: s };
  const re = globToRegExp(s, original);
  if (STAR_SUFFIX.test(s)) return { kind: GLOB, re, suffix: s.slice(1) };
  if (PREFIX_STAR.test(s)) return { kind: GLOB, re, prefix: s.slice(0, -1) };
  return { kind: GLOB, re };
}

function isLiteral(p: Part): p is { kind: typeof LITERAL; text: string } {
  return p.kind === LITERAL;
}

function makeTester(anchored: boolean, parts: readonly Part[]): Tester {
  const general = anchored ? anchoredTester(parts) : floatingTester(parts);

  // Fast paths on the unsplit string, valid for absolute paths (the root is component 0, so any
  // "/name" occurrence is a whole component at index >= 1). Relative paths use the general matcher.
  if (parts.every(isLiteral)) {
    const joined = '/' + parts.map((p) => p.text).join('/');
    if (anchored) {
      // "/home/user/cache": the path itself or anything below it.
      const withSlash = joined + '/';
      return (p, comps) => (p.charCodeAt(0) === 0x2f ? p === joined || p.startsWith(withSlash) : general(p, comps));
    }
    // "node_modules", "foo/bar": a run of whole components anywhere.
    const withSlash = joined + '/';
    return (p, comps) => (p.charCodeAt(0) === 0x2f ? p.endsWith(joined) || p.includes(withSlash) : general(p, comps));
  }

  const only = parts.length === 1 ? parts[0]! : undefined;
  if (!anchored && only !== undefined && only.kind === GLOB) {
    if (only.suffix !== undefined) {
      // "*.log": some component ends in ".log", i.e. ".log" followed by "/" or the end.
      const suffix = only.suffix;
      const suffixSlash = suffix + '/';
      return (p, comps) => (p.charCodeAt(0) === 0x2f ? p.endsWith(suffix) || p.includes(suffixSlash) : general(p, comps));
    }
    if (only.prefix !== undefined) {
      // "cache*": some component starts with "cache".
      const needle = '/' + only.prefix;
      return (p, comps) => (p.charCodeAt(0) === 0x2f ? p.includes(needle) : general(p, comps));
    }
  }
  return general;
}

function partMatches(part: Part, comp: string): boolean {
  switch (part.kind) {
    case LITERAL:
      return part.text === comp;
    case GLOB:
      return part.re.test(comp);
    default:
      return true;
  }
}

/** Do parts[pi..] match comps starting at ci (the run may end before the last component)? */
function matchFrom(parts: readonly Part[], pi: number, comps: readonly string[], ci: number): boolean {
  for (; pi < parts.length; pi++, ci++) {
    const part = parts[pi]!;
    if (part.kind === DSTAR) {
      if (pi + 1 === parts.length) return true;
      for (let k = ci; k < comps.length; k++) if (matchFrom(parts, pi + 1, comps, k)) return true;
      return false;
    }
    if (ci >= comps.length || !partMatches(part, comps[ci]!)) return false;
  }
  return true;
}

function anchoredTester(parts: readonly Part[]): Tester {
  // Anchored: the path must be absolute (component 0 is the root) and the parts match from index 1.
  return (p, comps) => p.charCodeAt(0) === 0x2f && matchFrom(parts, 0, comps(), 1);
}

function floatingTester(parts: readonly Part[]): Tester {
  const hasDstar = parts.some((x) => x.kind === DSTAR);
  // Components a run needs at least; a run consisting only of "**" still needs one component.
  const need = Math.max(1, parts.filter((x) => x.kind !== DSTAR).length);
  return (p, comps) => {
    const cs = comps();
    const start = p.charCodeAt(0) === 0x2f ? 1 : 0; // never let a floating pattern match the root
    const last = cs.length - need;
    if (hasDstar) {
      for (let s = start; s <= last; s++) if (matchFrom(parts, 0, cs, s)) return true;
      return false;
    }
    // No "**": test the (usually selective) first part before the rest.
    const first = parts[0]!;
    for (let s = start; s <= last; s++) {
      if (partMatches(first, cs[s]!) && matchFrom(parts, 1, cs, s + 1)) return true;
    }
    return false;
  };
}

// ---------------------------------------------------------------------------------------------
// Go filepath.Match syntax for one component, compiled to an anchored RegExp.

const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/g;

function escapeRegExpLiteral(s: string): string {
  return s.replace(REGEX_SYNTAX, '\\$&');
}

function classChar(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/**
 * Translate one pattern component. Mirrors Go's syntax checks: a class needs at least one range,
 * `]` and `-` must be escaped where a range bound is expected, a class must be closed, and a `\`
 * must be followed by a character.
 */
function globToRegExp(part: string, original: string): RegExp {
  const cps = Array.from(part); // code points
  let out = '^';
  let literalRun = '';
  let i = 0;
  const bad = (reason: string): never => {
    throw new ExcludePatternError(original, reason);
  };
  const flush = (): void => {
    if (literalRun) out += escapeRegExpLiteral(literalRun);
    literalRun = '';
  };
  while (i < cps.length) {
    const c = cps[i]!;
    if (c === '*') {
      flush();
      out += '.*';
      i++;
      continue;
    }
    if (c === '?') {
      flush();
      out += '.';
      i++;
      continue;
    }
    if (c === '\\') {
      if (i + 1 >= cps.length) bad('pattern ends with an unescaped "\\"');
      literalRun += cps[i + 1]!;
      i += 2;
      continue;
    }
    if (c === '[') {
      flush();
      i++;
      let negated = false;
      if (cps[i] === '^') {
        negated = true;
        i++;
      }
      const ranges: string[] = [];
      let nrange = 0;
      // Read one range bound the way Go's getEsc does.
      const bound = (): number => {
        const b = cps[i];
        if (b === undefined) bad('unterminated character class "["');
        if (b === '-' || b === ']') bad(`unexpected ${JSON.stringify(b)} in character class (escape it with "\\")`);
        let ch = b!;
        if (ch === '\\') {
          i++;
          if (i >= cps.length) bad('unterminated character class "["');
          ch = cps[i]!;
        }
        i++;
        if (i >= cps.length) bad('unterminated character class "["');
        return ch.codePointAt(0)!;
      };
      for (;;) {
        if (cps[i] === ']' && nrange > 0) {
          i++;
          break;
        }
        const lo = bound();
        let hi = lo;
        if (cps[i] === '-') {
          i++;
          hi = bound();
        }
        if (lo <= hi) ranges.push(lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`);
        nrange++;
      }
      out += (negated ? '[^' : '[') + ranges.join('') + ']';
      continue;
    }
    literalRun += c;
    i++;
  }
  flush();
  out += '$';
  return new RegExp(out, 'su');
}

// ---------------------------------------------------------------------------------------------
// Helpers mirroring Go's standard library

/** Go's `path.Clean`. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.charCodeAt(0) === 0x2f;
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(seg);
  }
  const body = out.join('/');
  if (rooted) return '/' + body;
  return body === '' ? '.' : body;
}

const NEEDS_SLOW_LOWER = /[\u0130\u03a3]/;

/**
 * Go's `strings.ToLower`: a per-code-point simple lower-case mapping. JavaScript's toLowerCase
 * differs only through context/multi-character rules (final sigma, U+0130), handled here.
 */
export function goToLower(s: string): string {
  if (!NEEDS_SLOW_LOWER.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    const l = ch.toLowerCase();
    out += String.fromCodePoint(l.codePointAt(0)!);
  }
  return out;
}

function isShellSpecial(c: string): boolean {
  return '*#$@!?-0123456789'.includes(c);
}

function isAlnum(c: number): boolean {
  return c === 0x5f || (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

/**
 * Expand environment variables the way restic expands `--exclude-file` lines: Go's `os.Expand`
 * (`$NAME`, `${NAME}`, single-character special names such as `$1`), unset variables become empty,
 * and `$$` stands for a literal `$`. Malformed `${` is dropped, as Go does.
 */
export function expandPatternEnv(
  pattern: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  if (!pattern.includes('$')) return pattern;
  const lookup = (name: string): string => (name === '$' ? '$' : env[name] ?? '');
  let out = '';
  let i = 0; // start of the pending literal text
  for (let j = 0; j < pattern.length; j++) {
    if (pattern[j] !== '$' || j + 1 >= pattern.length) continue;
    out += pattern.slice(i, j);
    const rest = pattern.slice(j + 1);
    let name = '';
    let w = 0;
    if (rest[0] === '{') {
      if (rest.length > 2 && isShellSpecial(rest[1]!) && rest[2] === '}') {
        name = rest[1]!;
        w = 3;
      } else {
        const close = rest.indexOf('}', 1);
        if (close === -1) w = 1; // bad syntax: drop "${"
        else if (close === 1) w = 2; // bad syntax: drop "${}"
        else {
          name = rest.slice(1, close);
          w = close + 1;
        }
      }
    } else if (isShellSpecial(rest[0]!)) {
      name = rest[0]!;
      w = 1;
    } else {
      while (w < rest.length && isAlnum(rest.charCodeAt(w))) w++;
      name = rest.slice(0, w);
    }
    if (name !== '') out += lookup(name);
    else if (w === 0) out += '$'; // "$" not followed by a name stays
    j += w;
    i = j + 1;
  }
  return out + pattern.slice(i);
}

/**
 * Patterns from an exclude file, as restic's `--exclude-file` reads them: one per line (LF or
 * CRLF), surrounding white space trimmed, empty lines and lines starting with `#` skipped, then
 * environment variables expanded ({@link expandPatternEnv}).
 */
export function parseExcludeFile(
  text: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const patterns: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    patterns.push(expandPatternEnv(line, env));
  }
  return patterns;
}
