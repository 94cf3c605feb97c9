import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ExcludePatternError,
  cleanPath,
  combineExcludes,
  compileExcludes,
  expandPatternEnv,
  goToLower,
  parseExcludeFile,
  type ExcludeMatcher,
} from './exclude.js';

const ex = (patterns: string[], path: string, opts?: { caseInsensitive?: boolean }): boolean =>
  compileExcludes(patterns, opts).excludes(path);

/** [pattern, path, excluded?] */
type Case = readonly [string, string, boolean];

function table(cases: readonly Case[], opts?: { caseInsensitive?: boolean }): void {
  for (const [pattern, path, want] of cases) {
    it(`${JSON.stringify(pattern)} ${want ? 'matches' : 'does not match'} ${JSON.stringify(path)}`, () => {
      expect(ex([pattern], path, opts)).toBe(want);
    });
  }
}

describe('single patterns', () => {
  describe('unanchored', () => {
    table([
      ['*.go', '/foo/bar/test.go', true],
      ['*.c', '/foo/bar/test.go', false],
      ['*.log', '/var/log/x.log', true],
      ['*.log', '/var/log/.log', true],
      ['*.log', '/var/log/x.log.1', false],
      ['*.log', '/var/x.log/inner', true], // matches a directory component: everything below goes too
      ['*', '/foo/bar', true],
      ['foo', '/foo', true],
      ['foo', '/a/foo', true],
      ['foo', '/a/foo/b/c', true],
      ['foo', '/a/foobar', false],
      ['foo', '/a/barfoo', false],
      ['foo', '/a/foo.txt', false],
      ['foo*', '/a/foobar/x', true],
      ['foo*', '/a/barfoo', false],
      ['bar*', '/foo/bar/test.go', true],
      ['bar/*', '/foo/bar/test.go', true],
      ['bar/*', '/foo/bar', false],
      ['baz/*', '/foo/bar/test.go', false],
      ['bar/test.go', '/foo/bar/test.go', true],
      ['foo/bar', '/x/foo/bar/y', true],
      ['foo/bar', '/x/foo/baz/bar', false],
      ['foo/bar', '/foo/bar', true],
      ['ba*/*.go', '/foo/bar/test.go', true],
      ['bb*/*.go', '/foo/bar/test.go', false],
      ['test.*', '/foo/bar/test.go', true],
      ['tesT.*', '/foo/bar/test.go', false], // case-sensitive
      ['b*ash', '/bin/bash', true],
      ['b*ash', '/bin/ash', false], // "*" never crosses "/"
      ['*/tmp', '/tmp', false], // an unanchored pattern never matches the root itself
      ['*/tmp', '/x/tmp', true],
      ['sdk/*/cpp/*/*vars*.html', '/usr/share/doc/libreoffice/sdk/docs/cpp/ref/a00517.html', false],
      ['foo/', '/a/foo/b', true], // trailing slash is ignored
      ['./foo', '/a/foo', true],
      ['a//b', '/x/a/b', true],
      ['x/../foo', '/a/foo', true], // cleaned to "foo"
      ['../foo', '/a/foo', false], // cleaned to "../foo": ".." is a literal component
    ]);
  });

  describe('anchored', () => {
    table([
      ['/foo/bar', '/foo/bar', true],
      ['/foo/bar/', '/foo/bar', true],
      ['/foo/bar', '/foo/bar/baz/qux', true],
      ['/foo/bar', '/foo/baz', false],
      ['/foo/bar', '/foo/barbaz', false],
      ['/foo/bar', '/x/foo/bar', false],
      ['/foo///bar', '/foo/bar', true],
      ['/foo/../bar', '/foo/bar', false],
      ['/foo/../bar', '/bar', true],
      ['/../bar', '/bar', true],
      ['/bar*', '/foo/bar/test.go', false],
      ['/bin', '/bin/bash', true],
      ['/bin', '/usr/bin/restic', false],
      ['/foo/*', '/foo', false],
      ['/foo/*', '/foo/baz', true],
      ['/foo/*', '/foo/baz/deeper', true],
      ['/foo/*test.*', '/foo/bar/test.go', false],
      ['/foo/*/test.*', '/foo/bar/test.go', true],
      ['/*/*/baz/test.*', '/foo/bar/baz/test.go', true],
      ['/*/*/bar/test.*', '/foo/bar/test.go', false],
      ['/home/user/cache', '/home/user/cache', true],
      ['/home/user/cache', '/home/user/cache/a/b', true],
      ['/home/user/cache', '/home/user/cachet', false],
      ['/home/user/cache', '/home/user', false],
      ['/foo/bar', 'foo/bar', false], // anchored patterns never match relative paths
      ['/', '/anything/at/all', true], // "/" is the root plus an implicit "**"
      ['/', '/', true],
    ]);
  });

  describe('double star', () => {
    table([
      ['**', '/foo/bar/test.go', true],
      ['**', '/x', true],
      ['**/**', '/x', true],
      ['/**', '/x/y', true],
      ['/foo/**', '/foo', true], // "**" may match zero components
      ['/foo/**', '/foobar', false],
      ['/foo/**/bar', '/foo/bar', true],
      ['/foo/**/bar', '/foo/a/b/c/bar', true],
      ['/foo/**/bar', '/foo/a/b/c/bar/d', true],
      ['/foo/**/bar', '/x/foo/a/bar', false],
      ['/foo/**/bar', '/foo/a/b/c/barx', false],
      ['foo/**/bar/*.go', '/home/user/foo/work/special/project/bar/test.go', true],
      ['foo/**/bar/*.go', '/home/user/foo/bar/test.go', true],
      ['foo/**/bar/*.go', 'x/foo/bar/test.go', true],
      ['foo/**/bar/*.go', 'foo/bar/test.go', true],
      ['foo/**/bar/*.go', 'foo/bar/baz/bar/test.go', true],
      ['foo/**/bar/*.go', '/home/user/foo/test.c', false],
      ['foo/**/bar/*.go', 'bar/foo/main.go', false],
      ['foo/**/bar/*.go', '/foo/bar/main.go', true],
      ['foo/**/bar', '/home/user/foo/x/y/bar/main.go', true],
      ['foo/**/bar/**/x', '/home/user/foo/blaaa/blaz/bar/shared/work/x', true],
      ['foo/**/bar/**/x', '/home/user/foo/bar/x', true],
      ['foo/**/bar/**/x', '/home/user/foo/bar', false],
      ['user/**/important*', '/home/user/work/x/y/hidden/x', false],
      ['user/**/hidden*/**/c', '/home/user/work/x/y/hidden/z/a/b/c', true],
      ['**/lib', '/usr/lib', true],
      ['**/lib', '/usr/libexec', false],
      ['a/**', '/x/a', true],
      ['a/**', '/x/ab', false],
      ['a**', '/x/abc', true], // "**" inside a component is just "*"
      ['a**', '/x/a/b', true],
      ['a**/b', '/x/a/c/b', false],
    ]);
  });

  describe('character classes and escapes (Go filepath.Match)', () => {
    table([
      ['?', '/foo/bar/x', true],
      ['?', '/foo/bar/xy', false],
      ['?.log', '/a/b.log', true],
      ['?.log', '/a/bb.log', false],
      ['[abc].txt', '/dir/b.txt', true],
      ['[abc].txt', '/dir/d.txt', false],
      ['[a-c].txt', '/dir/c.txt', true],
      ['[a-c].txt', '/dir/C.txt', false],
      ['[^a-c].txt', '/dir/d.txt', true],
      ['[^a-c].txt', '/dir/a.txt', false],
      ['[!a].txt', '/dir/b.txt', false], // Go: "!" is not a negation, [!a] is the set {!, a}
      ['[!a].txt', '/dir/!.txt', true],
      ['[!a].txt', '/dir/a.txt', true],
      ['[a-cx-z]', '/dir/y', true],
      ['[a-cx-z]', '/dir/m', false],
      ['[\\]]', '/dir/]', true],
      ['[\\-]', '/dir/-', true],
      ['[a\\-z]', '/dir/b', false],
      ['[z-a]', '/dir/m', false], // reversed range: valid, matches nothing
      ['[^z-a]', '/dir/m', true],
      ['[^z-a]', '/dir/mm', false],
      ['\\*', '/dir/*', true],
      ['\\*', '/dir/x', false],
      ['a\\*star', '/dir/a*star', true],
      ['a\\*star', '/dir/abstar', false],
      ['\\[brackets\\]', '/dir/[brackets]', true],
      ['\\[brackets\\]', '/dir/b', false],
      ['q\\?mark', '/dir/q?mark', true],
      ['q\\?mark', '/dir/qxmark', false],
      ['\\c', '/dir/c', true], // escaping an ordinary character
      ['a]b', '/dir/a]b', true], // "]" outside a class is literal
      ['x.y', '/dir/xzy', false], // "." is literal
      ['(a|b)+', '/dir/(a|b)+', true],
      ['(a|b)+', '/dir/a', false],
      ['$HOME', '/dir/$HOME', true], // no expansion for --exclude arguments
      ['^x$', '/dir/^x$', true],
      ['*', '/dir/line\nbreak', true],
      ['?', '/dir/\n', true],
    ]);
  });

  describe('unicode', () => {
    table([
      ['ünïcødé.txt', '/home/ünïcødé.txt', true],
      ['?', '/dir/ü', true], // one code point, not one byte
      ['?', '/dir/😀', true], // astral: one code point, two UTF-16 units
      ['??', '/dir/😀', false],
      ['[😀-😂]', '/dir/😁', true],
      ['[^😀]', '/dir/😀', false],
      ['日本語/*.log', '/x/日本語/データ.log', true],
      ['日本語/*.log', '/x/日本語/データ.txt', false],
      ['*.日志', '/x/a.日志', true],
      ['[а-я]*', '/x/привет', true], // Cyrillic range
      ['[а-я]*', '/x/Привет', false],
    ]);
  });
});

describe('pattern lists and negation', () => {
  it('excludes when any pattern matches', () => {
    const m = compileExcludes(['*.c', '*.go']);
    expect(m.excludes('/home/user/file.go')).toBe(true);
    expect(m.excludes('/home/user/file.c')).toBe(true);
    expect(m.excludes('/home/user/file.h')).toBe(false);
  });

  it('ignores empty patterns and an empty list excludes nothing', () => {
    expect(ex([], '/a')).toBe(false);
    expect(ex([''], '/a')).toBe(false);
    expect(ex(['', '*.c'], '/foo/bar/test.go')).toBe(false);
    expect(ex(['', '*.c'], '/foo/bar/test.c')).toBe(true);
  });

  it('a later "!" pattern re-includes, an even later pattern excludes again', () => {
    const m = compileExcludes(['*.log', '!keep.log', '/var/keep.log']);
    expect(m.excludes('/a/x.log')).toBe(true);
    expect(m.excludes('/a/keep.log')).toBe(false);
    expect(m.excludes('/var/keep.log')).toBe(true);
    expect(m.excludes('/a/x.txt')).toBe(false);
  });

  it('an earlier "!" pattern does not override a later positive one', () => {
    expect(ex(['!keep.log', '*.log'], '/a/keep.log')).toBe(true);
  });

  it('"!" alone re-includes nothing and never errors', () => {
    expect(ex(['*.log', '!'], '/a/x.log')).toBe(true);
    expect(ex(['!'], '/a/x.log')).toBe(false);
  });

  it('re-including a subtree works through prefix matching', () => {
    const m = compileExcludes(['/home/u/*', '!/home/u/Documents']);
    expect(m.excludes('/home/u')).toBe(false);
    expect(m.excludes('/home/u/Music')).toBe(true);
    expect(m.excludes('/home/u/Music/a.mp3')).toBe(true);
    expect(m.excludes('/home/u/Documents')).toBe(false);
    expect(m.excludes('/home/u/Documents/x/y.txt')).toBe(false);
  });

  it('a negated pattern may itself use globs and "**"', () => {
    const m = compileExcludes(['/data/**/*.tmp', '!/data/**/important/*.tmp']);
    expect(m.excludes('/data/a/b/x.tmp')).toBe(true);
    expect(m.excludes('/data/a/important/x.tmp')).toBe(false);
  });

  it('combineExcludes ORs independent lists (restic --exclude + --iexclude)', () => {
    const m = combineExcludes([
      compileExcludes(['*.log']),
      compileExcludes(['!KEEP.LOG', 'TMP'], { caseInsensitive: true }),
    ]);
    expect(m.excludes('/a/keep.log')).toBe(true); // "!" in the other list cannot re-include
    expect(m.excludes('/a/tmp/x')).toBe(true);
    expect(m.excludes('/a/Tmp')).toBe(true);
    expect(m.excludes('/a/x.txt')).toBe(false);
    expect(combineExcludes([]).excludes('/a')).toBe(false);
  });
});

describe('case-insensitive (--iexclude)', () => {
  table(
    [
      ['*.PDF', '/Docs/Guide.pdf', true],
      ['*.pdf', '/Docs/Guide.PDF', true],
      ['readme.md', '/x/README.MD', true],
      ['/HOME/User', '/home/user/file', true],
      ['[A-C]*', '/x/bravo', true],
      ['[a-c]*', '/x/Bravo', true],
      ['ÜBER', '/x/über', true],
      ['über', '/x/ÜBER/y', true],
      ['ΣΟΦΊΑ', '/x/σοφία', true],
      ['σοφία', '/x/ΣΟΦΊΑ', true], // Go lowers Σ to σ even at the end of a word
      ['İstanbul', '/x/istanbul', true], // Go maps U+0130 to plain "i"
      ['foo', '/x/foobar', false],
    ],
    { caseInsensitive: true },
  );

  it('is off by default', () => {
    expect(ex(['*.PDF'], '/Docs/Guide.pdf')).toBe(false);
  });

  it('goToLower mirrors Go strings.ToLower', () => {
    expect(goToLower('ABC/Déf')).toBe('abc/déf');
    expect(goToLower('ΑΣ')).toBe('ασ');
    expect(goToLower('İ')).toBe('i');
    expect(goToLower('K')).toBe('k'); // Kelvin sign
  });
});

describe('invalid patterns', () => {
  const invalid = ['a[', '[', '[]', '[]a]', '[^]', '[a-]', '[-a]', '[a-b-c]', 'foo\\', '[\\', '[a', 'x/[/y', '!a[', '/x/**/[', '[^/]'];
  for (const p of invalid) {
    it(`rejects ${JSON.stringify(p)}`, () => {
      expect(() => compileExcludes(['ok', p])).toThrow(ExcludePatternError);
      expect(() => compileExcludes([p])).toThrow(JSON.stringify(p));
    });
  }

  it('names the pattern and the reason', () => {
    let err: unknown;
    try {
      compileExcludes(['*.log', 'cache/[ab']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExcludePatternError);
    expect((err as ExcludePatternError).pattern).toBe('cache/[ab');
    expect((err as Error).message).toMatch(/invalid exclude pattern "cache\/\[ab": unterminated character class/);
  });

  const valid = ['[z-a]', '[\\]]', '[\\-]', 'a]', ']', '-', '[a-z0-9_]', '\\\\', 'x/y'];
  for (const p of valid) {
    it(`accepts ${JSON.stringify(p)}`, () => {
      expect(() => compileExcludes([p])).not.toThrow();
    });
  }
});

describe('environment variables', () => {
  const env = { HOME: '/home/bob', USER: 'bob', EMPTY: '', '1': 'one' };

  it('expands like Go os.Expand with restic $$ -> $', () => {
    expect(expandPatternEnv('$HOME/.cache', env)).toBe('/home/bob/.cache');
    expect(expandPatternEnv('/home/${USER}/foo', env)).toBe('/home/bob/foo');
    expect(expandPatternEnv('/x/$UNSET/y', env)).toBe('/x//y');
    expect(expandPatternEnv('price$$', env)).toBe('price$');
    expect(expandPatternEnv('$$HOME', env)).toBe('$HOME');
    expect(expandPatternEnv('trailing$', env)).toBe('trailing$');
    expect(expandPatternEnv('a$/b', env)).toBe('a$/b'); // "$" not followed by a name stays
    expect(expandPatternEnv('$HOMEx', env)).toBe(''); // the name is the longest alphanumeric run
    expect(expandPatternEnv('$HOME.x', env)).toBe('/home/bob.x');
    expect(expandPatternEnv('${HOME}x', env)).toBe('/home/bobx');
    expect(expandPatternEnv('$1x', env)).toBe('onex'); // single-digit special name
    expect(expandPatternEnv('a${}b', env)).toBe('ab'); // bad syntax is dropped, as in Go
    expect(expandPatternEnv('a${b', env)).toBe('ab');
    expect(expandPatternEnv('no dollars', env)).toBe('no dollars');
  });

  it('is not applied unless asked for (restic does not expand --exclude arguments)', () => {
    expect(ex(['$HOME'], '/x/$HOME')).toBe(true);
    const m = compileExcludes(['$HOME/.cache', '!$HOME/.cache/keep'], { expandEnv: env });
    expect(m.excludes('/home/bob/.cache/x')).toBe(true);
    expect(m.excludes('/home/bob/.cache/keep')).toBe(false);
    expect(m.excludes('/x/$HOME/.cache')).toBe(false);
  });

  it('expandEnv: true uses process.env', () => {
    process.env.COFFER_EXCLUDE_TEST_DIR = 'zzz-dir';
    try {
      expect(compileExcludes(['/tmp/$COFFER_EXCLUDE_TEST_DIR'], { expandEnv: true }).excludes('/tmp/zzz-dir/a')).toBe(true);
    } finally {
      delete process.env.COFFER_EXCLUDE_TEST_DIR;
    }
  });

  it('expands before lower-casing for case-insensitive lists', () => {
    const m = compileExcludes(['$HOME/Cache'], { expandEnv: { HOME: '/Home/BOB' }, caseInsensitive: true });
    expect(m.excludes('/home/bob/cache/x')).toBe(true);
  });

  it('parseExcludeFile follows restic --exclude-file', () => {
    const text = '\ufeff# comment\r\n*.go\r\n\n   foo/**/bar  \n\t# indented comment\n$HOME/tmp\nprice$$\n';
    expect(parseExcludeFile(text, env)).toEqual(['*.go', 'foo/**/bar', '/home/bob/tmp', 'price$']);
  });
});

describe('cleanPath mirrors Go path.Clean', () => {
  const cases: Array<[string, string]> = [
    ['', '.'],
    ['/', '/'],
    ['//', '/'],
    ['a/', 'a'],
    ['a//b', 'a/b'],
    ['./a/./b/.', 'a/b'],
    ['a/../..', '..'],
    ['../../a', '../../a'],
    ['/../a', '/a'],
    ['/a/b/../../..', '/'],
    ['a/b/../c', 'a/c'],
    ['.', '.'],
    ['..', '..'],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(want)}`, () => expect(cleanPath(input)).toBe(want));
  }
});

// ---------------------------------------------------------------------------------------------
// A deliberately naive reference written directly from restic's description of filter.List
// (expand each "**" into 0..n "*" components, try every offset), with a backtracking Go-style glob.
// The compiled matcher, including its fast paths, must agree with it on random inputs.

function refGlob(pat: string[], pi: number, name: string[], ni: number): boolean {
  if (pi === pat.length) return ni === name.length;
  const c = pat[pi]!;
  if (c === '*') {
    for (let k = ni; k <= name.length; k++) if (refGlob(pat, pi + 1, name, k)) return true;
    return false;
  }
  if (ni >= name.length) return false;
  if (c === '?') return refGlob(pat, pi + 1, name, ni + 1);
  if (c === '\\') return pat[pi + 1] === name[ni] && refGlob(pat, pi + 2, name, ni + 1);
  if (c === '[') {
    let j = pi + 1;
    const neg = pat[j] === '^';
    if (neg) j++;
    let hit = false;
    const ch = name[ni]!.codePointAt(0)!;
    let first = true;
    while (first || pat[j] !== ']') {
      first = false;
      let lo = pat[j]!;
      if (lo === '\\') lo = pat[++j]!;
      j++;
      let hi = lo;
      if (pat[j] === '-') {
        hi = pat[++j]!;
        if (hi === '\\') hi = pat[++j]!;
        j++;
      }
      if (lo.codePointAt(0)! <= ch && ch <= hi.codePointAt(0)!) hit = true;
    }
    return hit !== neg && refGlob(pat, j + 1, name, ni + 1);
  }
  return c === name[ni] && refGlob(pat, pi + 1, name, ni + 1);
}

function refPartMatch(part: string, comp: string): boolean {
  return refGlob(Array.from(part), 0, Array.from(comp), 0);
}

function refSplit(p: string): string[] {
  const parts = p.split('/');
  if (parts[0] === '') parts[0] = '/';
  return parts;
}

function refMatch(parts: string[], strs: string[]): boolean {
  const pos = parts.findIndex((x) => x === '**' || x === '');
  if (pos >= 0) {
    for (let i = 0; i <= strs.length - parts.length + 1; i++) {
      const expanded = [...parts.slice(0, pos), ...Array<string>(i).fill('*'), ...parts.slice(pos + 1)];
      if (refMatch(expanded, strs)) return true;
    }
    return false;
  }
  if (parts.length === 0) return strs.length === 0;
  if (parts.length > strs.length) return false;
  let minOffset = 0;
  let maxOffset = strs.length - parts.length;
  if (parts[0] === '/') maxOffset = 0;
  else if (strs[0] === '/') minOffset = 1;
  for (let off = maxOffset; off >= minOffset; off--) {
    if (parts.every((p, i) => (p === '/' ? strs[off + i] === '/' : refPartMatch(p, strs[off + i]!)))) return true;
  }
  return false;
}

function refList(patterns: string[], path: string): boolean {
  let matched = false;
  for (const raw of patterns) {
    if (raw === '') continue;
    const neg = raw.startsWith('!');
    const m = refMatch(refSplit(cleanPath(neg ? raw.slice(1) : raw)), refSplit(path));
    matched = neg ? matched && !m : matched || m;
  }
  return matched;
}

describe('agrees with a naive reference on random inputs', () => {
  it('random patterns x random paths', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
    const pparts = ['a', 'b', 'ab', 'ba', '*', '?', '**', 'a*', '*b', '*.x', '[ab]', '[^a]', '[!a]', 'a?', '\\a', 'é', '[à-ê]', '.', '..'];
    const names = ['a', 'b', 'ab', 'ba', 'bb', 'c.x', 'a.x', 'é', '!a', 'aé'];
    const randPattern = (): string => {
      const n = 1 + rnd(4);
      const comps = Array.from({ length: n }, () => pick(pparts));
      return (rnd(6) === 0 ? '!' : '') + (rnd(3) === 0 ? '/' : '') + comps.join('/') + (rnd(8) === 0 ? '/' : '');
    };
    const randPath = (): string => {
      const n = 1 + rnd(6);
      const comps = Array.from({ length: n }, () => pick(names));
      return (rnd(8) === 0 ? '' : '/') + comps.join('/');
    };
    let checked = 0;
    let positives = 0;
    for (let round = 0; round < 400; round++) {
      const patterns = Array.from({ length: 1 + rnd(3) }, randPattern);
      const ci = rnd(5) === 0;
      const m = compileExcludes(patterns, { caseInsensitive: ci });
      for (let k = 0; k < 40; k++) {
        let path = randPath();
        if (ci && rnd(2) === 0) path = path.toUpperCase();
        const want = ci ? refList(patterns.map(goToLower), goToLower(path)) : refList(patterns, path);
        const got = m.excludes(path);
        if (got !== want) throw new Error(`mismatch for ${JSON.stringify(patterns)} ci=${ci} on ${JSON.stringify(path)}: got ${got}, want ${want}`);
        checked++;
        if (want) positives++;
      }
    }
    expect(checked).toBe(16000);
    expect(positives).toBeGreaterThan(2000);
    expect(checked - positives).toBeGreaterThan(2000);
  });
});

describe('performance', () => {
  it('compiles once and matches 200k paths quickly', () => {
    const m = compileExcludes(['*.log', 'node_modules', '/home/user/.cache', 'foo/**/bar', '*.tmp', '[Tt]humbs.db', '!keep.log']);
    const paths: string[] = [];
    for (let i = 0; i < 1000; i++) paths.push(`/home/user/projects/p${i % 37}/src/dir${i % 11}/file${i}.${i % 3 ? 'ts' : 'log'}`);
    const t0 = performance.now();
    let hits = 0;
    for (let r = 0; r < 200; r++) for (const p of paths) if (m.excludes(p)) hits++;
    const ms = performance.now() - t0;
    expect(hits).toBe(200 * paths.filter((_, i) => i % 3 === 0).length);
    expect(ms).toBeLessThan(3000); // ~100 ms on a laptop; generous for loaded CI machines
  });
});

// ---------------------------------------------------------------------------------------------
// Interoperability: the real restic must keep exactly the entries our matcher keeps.

function hasRestic(): boolean {
  try {
    execFileSync('restic', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const resticAvailable = hasRestic();
if (!resticAvailable && !process.env.CI) {
  console.log('exclude.test.ts: skipping restic interoperability test: `restic` not found on PATH');
}

const run = promisify(execFile);

/** Escape glob metacharacters so a literal path can be used inside a pattern. */
function globEscape(s: string): string {
  return s.replace(/[\\*?[\]]/g, '\\$&');
}

/** The entries a backup of `root` keeps: walk top-down, never descending into excluded entries. */
function keptByMatcher(root: string, m: ExcludeMatcher): string[] {
  if (m.excludes(root)) return [];
  const out = [root];
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const abs = `${dir}/${d.name}`;
      if (m.excludes(abs)) continue;
      out.push(abs);
      if (d.isDirectory()) walk(abs);
    }
  };
  walk(root);
  return out.sort();
}

describe.skipIf(!resticAvailable && !process.env.CI)('restic interoperability', () => {
  let work: string | undefined;
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const files = [
    'a.log',
    'b.txt',
    'README.MD',
    'Makefile',
    '.hidden',
    'sp ace.txt',
    'ünïcødé.txt',
    '日本語/データ.log',
    '日本語/keep.txt',
    'src/main.c',
    'src/main.o',
    'src/lib/util.c',
    'src/lib/util.o',
    'src/lib/cache/x.bin',
    'cache/big.bin',
    'cache/sub/deep.log',
    'build/out/app',
    'build/out/app.log',
    '[brackets]/f1',
    'a*star',
    '!bang',
    'q?mark',
    'docs/Guide.PDF',
    'docs/guide.txt',
    'docs/node_modules/pkg/index.js',
    'sub/x/y/sub/z.txt',
  ];

  type PatternSet = { exclude?: string[]; iexclude?: string[] };
  // Few sets, each exercising several independent patterns: every restic run costs two scrypt rounds.
  const patternSets = (R: string): PatternSet[] => [
    { exclude: ['*.log', 'cache', 'sp ace.txt', 'node_modules', 'link', '*/sub'] },
    { exclude: ['src/**/*.o', `${R}/docs/**`, `${R}/**/out/app`, `${R}/sub/**/sub`, `${R}/Makefile`] },
    { exclude: ['[a-m]*.txt', '\\[brackets\\]', 'a\\*star', '[!x]bang', 'q\\?mark', '.*'] },
    { exclude: [`${R}/*`, `!${R}/src`, `!${R}/docs`, '*.o', `!${R}/src/lib/util.o`] },
    { exclude: ['日本語/*.log', '**/lib', 'main.?'], iexclude: ['readme.md', '*.pdf', 'ÜNÏCØDÉ.TXT', 'MAKE*', 'NODE_MODULES'] },
  ];

  it('keeps exactly what restic keeps', { timeout: 60_000 }, async () => {
    if (!resticAvailable) throw new Error('restic is not installed but CI is set: the interoperability test must run');
    work = mkdtempSync(join(tmpdir(), 'coffer-exclude-'));
    const root = join(work, 'tree');
    const repo = join(work, 'repo');
    const sets = patternSets(globEscape(root));
    for (const f of files) {
      mkdirSync(join(root, f, '..'), { recursive: true });
      writeFileSync(join(root, f), `content of ${f}\n`);
    }
    symlinkSync('src', join(root, 'link'));
    mkdirSync(join(root, 'empty-dir'));

    const env = { ...process.env, RESTIC_PASSWORD: 'coffer-test', RESTIC_REPOSITORY: repo };
    await run('restic', ['init', '--no-cache', '-q'], { env });

    const viaRestic = async (set: PatternSet): Promise<string[]> => {
      const args = ['backup', '--no-cache', '--json', '-q'];
      for (const p of set.exclude ?? []) args.push('--exclude', p);
      for (const p of set.iexclude ?? []) args.push('--iexclude', p);
      args.push(root);
      const { stdout } = await run('restic', args, { env });
      const summary = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { message_type?: string; snapshot_id?: string })
        .find((o) => o.message_type === 'summary');
      if (!summary?.snapshot_id) throw new Error(`no snapshot id in restic output: ${stdout}`);
      const ls = await run('restic', ['ls', '--no-cache', '--json', summary.snapshot_id], { env, maxBuffer: 16 << 20 });
      return ls.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { struct_type?: string; path?: string })
        .filter((o) => o.struct_type === 'node' && o.path !== undefined)
        .map((o) => o.path!)
        .filter((p) => p === root || p.startsWith(root + '/')) // drop the ancestors restic records
        .sort();
    };
    const viaCoffer = (set: PatternSet): string[] =>
      keptByMatcher(
        root,
        combineExcludes([
          compileExcludes(set.exclude ?? []),
          compileExcludes(set.iexclude ?? [], { caseInsensitive: true }),
        ]),
      );

    const all = keptByMatcher(root, compileExcludes([]));
    expect(all.length).toBeGreaterThanOrEqual(30);

    // restic spends most of its time in scrypt; run a few invocations side by side.
    const results: string[][] = new Array(sets.length);
    let next = 0;
    await Promise.all(
      [0, 1, 2].map(async () => {
        while (next < sets.length) {
          const i = next++;
          results[i] = await viaRestic(sets[i]!);
        }
      }),
    );
    sets.forEach((set, i) => {
      const ours = viaCoffer(set);
      expect({ set, kept: ours }).toEqual({ set, kept: results[i] });
      expect(ours.length).toBeLessThan(all.length); // every set excludes something
    });
  });
});
