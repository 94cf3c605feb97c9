// Reproducible benchmark dataset: generation, deterministic mutation, and tree
// manifests (used to verify restores).
//
// All randomness comes from an AES-256-CTR keystream with a fixed key derived
// from the seed; every logical stream (one file, one directory layout, ...) gets
// its own IV derived from a label, so the output does not depend on the order
// in which things are generated.

import { createCipheriv, createHash, type Cipher } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Bump whenever the generator's output changes, so old datasets are regenerated. */
export const GENERATOR_VERSION = 4;

const MiB = 1024 * 1024;
const MB = 1_000_000;
/** 2024-01-01T00:00:00Z, the base of all generated mtimes (seconds). */
const BASE_MTIME = Date.UTC(2024, 0, 1) / 1000;
const YEAR_S = 365 * 24 * 3600;

// ---------------------------------------------------------------------------
// Random source

const ZEROS = Buffer.alloc(4 * MiB);

/** Deterministic random stream: AES-256-CTR keystream (key from seed, IV from label). */
export class KeyStream {
  private readonly cipher: Cipher;
  private block: Buffer = Buffer.alloc(0);
  private u32: Uint32Array = new Uint32Array(0);
  private u32pos = 0;

  constructor(seed: string, label: string) {
    const key = createHash('sha256').update(`coffer-bench-key/${seed}`).digest();
    const iv = createHash('sha256').update(`coffer-bench-iv/${label}`).digest().subarray(0, 16);
    this.cipher = createCipheriv('aes-256-ctr', key, iv);
  }

  /** Fresh keystream bytes (a new Buffer of length n). */
  bytes(n: number): Buffer {
    if (n <= ZEROS.length) return this.cipher.update(ZEROS.subarray(0, n));
    const parts: Buffer[] = [];
    for (let left = n; left > 0; left -= ZEROS.length) {
      parts.push(this.cipher.update(ZEROS.subarray(0, Math.min(left, ZEROS.length))));
    }
    return Buffer.concat(parts, n);
  }

  uint32(): number {
    if (this.u32pos >= this.u32.length) {
      this.block = this.cipher.update(ZEROS.subarray(0, 64 * 1024));
      this.u32 = new Uint32Array(this.block.buffer, this.block.byteOffset, this.block.length / 4);
      this.u32pos = 0;
    }
    return this.u32[this.u32pos++]!;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  pick<T>(arr: readonly T[]): T {
    return arr[this.int(arr.length)]!;
  }
}

// ---------------------------------------------------------------------------
// Text-like (compressible) content

const COMMON_WORDS = (
  'the of and to a in is it you that he was for on are with as I his they be at one have this from ' +
  'or had by hot word but what some we can out other were all there when up use your how said an each ' +
  'she which do their time if will way about many then them write would like so these her long make ' +
  'thing see him two has look more day could go come did number sound no most people my over know water ' +
  'than call first who may down side been now find any new work part take get place made live where after ' +
  'back little only round man year came show every good me give our under name very through just form ' +
  'sentence great think say help low line differ turn cause much mean before move right boy old too same ' +
  'tell does set three want air well also play small end put home read hand port large spell add even land ' +
  'here must big high such follow act why ask men change went light kind off need house picture try us ' +
  'again animal point mother world near build self earth father head stand own page should country found ' +
  'answer school grow study still learn plant cover food sun four between state keep eye never last let ' +
  'thought city tree cross farm hard start might story saw far sea draw left late run while press close ' +
  'night real life few north open seem together next white children begin got walk example ease paper ' +
  'group always music those both mark often letter until mile river car feet care second book carry took ' +
  'science eat room friend began idea fish mountain stop once base hear horse cut sure watch color face ' +
  'wood main enough plain girl usual young ready above ever red list though feel talk bird soon body dog ' +
  'family direct pose leave song measure door product black short numeral class wind question happen ' +
  'complete ship area half rock order fire south problem piece told knew pass since top whole king space ' +
  'heard best hour better true during hundred five remember step early hold west ground interest reach ' +
  'fast verb sing listen six table travel less morning ten simple several vowel toward war lay against ' +
  'pattern slow center love person money serve appear road map rain rule govern pull cold notice voice ' +
  'unit power town fine certain fly fall lead cry dark machine note wait plan figure star box noun field ' +
  'rest correct able pound done beauty drive stood contain front teach week final gave green oh quick ' +
  'develop ocean warm free minute strong special mind behind clear tail produce fact street inch multiply ' +
  'nothing course stay wheel full force blue object decide surface deep moon island foot system busy test ' +
  'record boat common gold possible plane stead dry wonder laugh thousand ago ran check game shape equate ' +
  'miss brought heat snow tire bring yes distant fill east paint language among grand ball yet wave drop ' +
  'heart am present heavy dance engine position arm wide sail material size vary settle speak weight ' +
  'general ice matter circle pair include divide syllable felt perhaps pick sudden count square reason ' +
  'length represent art subject region energy hunt probable bed brother egg ride cell believe fraction ' +
  'forest sit race window store summer train sleep prove lone exercise wall catch mount wish sky board ' +
  'joy winter sat written wild instrument kept glass grass cow job edge sign visit past soft fun bright ' +
  'gas weather month million bear finish happy hope flower clothe strange gone jump baby eight village ' +
  'meet root buy raise solve metal whether push seven paragraph third shall held hair describe cook floor ' +
  'either result burn hill safe cat century consider type law bit coast copy phrase silent tall sand soil ' +
  'roll temperature finger industry value fight lie beat excite natural view sense ear else quite broke ' +
  'case middle kill son lake moment scale loud spring observe child straight consonant nation dictionary ' +
  'milk speed method organ pay age section dress cloud surprise quiet stone tiny climb cool design poor ' +
  'lot experiment bottom key iron single stick flat twenty skin smile crease hole trade melody trip office ' +
  'receive row mouth exact symbol die least trouble shout except wrote seed tone join suggest clean break ' +
  'lady yard rise bad blow oil blood touch grew cent mix team wire cost lost brown wear garden equal sent ' +
  'choose fell fit flow fair bank collect save control decimal gentle woman captain practice separate ' +
  'difficult doctor please protect noon whose locate ring character insect caught period indicate radio ' +
  'spoke atom human history effect electric expect crop modern element hit student corner party supply ' +
  'bone rail imagine provide agree thus capital chair danger fruit rich thick soldier process operate ' +
  'guess necessary sharp wing create neighbor wash bat rather crowd corn compare poem string bell depend ' +
  'meat rub tube famous dollar stream fear sight thin triangle planet hurry chief colony clock mine tie ' +
  'enter major fresh search send yellow gun allow print dead spot desert suit current lift rose continue ' +
  'block chart hat sell success company subtract event particular deal swim term opposite wife shoe ' +
  'shoulder spread arrange camp invent cotton born determine quart nine truck noise level chance gather ' +
  'shop stretch throw shine property column molecule select wrong gray repeat require broad prepare salt ' +
  'nose plural anger claim continent oxygen sugar death pretty skill women season solution magnet silver ' +
  'thank branch match suffix especially fig afraid huge sister steel discuss forward similar guide ' +
  'experience score apple bought led pitch coat mass card band rope slip win dream evening condition feed ' +
  'tool total basic smell valley nor double seat arrive master track parent shore division sheet substance ' +
  'favor connect post spend chord fat glad original share station dad bread charge proper bar offer ' +
  'segment slave duck instant market degree populate chick dear enemy reply drink occur support speech ' +
  'nature range steam motion path liquid log meant quotient teeth shell neck'
).split(' ');

const SYLLABLES = (
  'ka ri to mu se na lo vi pe da ku ro ti ma be zu fa ne so gi ha tu le mi po ra si we yo ba ' +
  'con tra per ment ion ing ex pro ver sta ble der ter lan gor vel mar dis qua tor cel nis pha'
).split(' ');

const LEVELS = ['INFO', 'INFO', 'INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'DEBUG', 'WARN', 'ERROR'];

export type TextMode = 'prose' | 'log';

const SEP = new Map<string, Buffer>();
function sepBuf(s: string): Buffer {
  let b = SEP.get(s);
  if (!b) SEP.set(s, (b = Buffer.from(s)));
  return b;
}
const HEX = Buffer.from('0123456789abcdef');

/** Shared vocabulary (built once per seed): word bytes and a Zipf rank table. */
class Vocabulary {
  readonly words: Buffer[];
  readonly capWords: Buffer[];
  /** 65536 entries mapping a uniform u16 to a word index, Zipf(s=1.25) distributed. */
  readonly zipf: Uint16Array;
  readonly components: Buffer[];
  /** Recurring multi-word phrases (lowercase, no trailing space), Zipf-chosen via `zipf`. */
  readonly phrases: Buffer[];

  constructor(seed: string) {
    const rng = new KeyStream(seed, 'vocabulary');
    const words = [...COMMON_WORDS];
    const seen = new Set(words);
    while (words.length < 2500) {
      let w = '';
      const n = rng.range(1, 4);
      for (let i = 0; i < n; i++) w += rng.pick(SYLLABLES);
      if (!seen.has(w)) {
        seen.add(w);
        words.push(w);
      }
    }
    this.words = words.map((w) => Buffer.from(w));
    this.capWords = words.map((w) => Buffer.from(w[0]!.toUpperCase() + w.slice(1)));
    const weights = words.map((_, i) => 1 / Math.pow(i + 1, 1.25));
    const sum = weights.reduce((a, b) => a + b, 0);
    this.zipf = new Uint16Array(65536);
    let acc = 0;
    let j = 0;
    for (let i = 0; i < words.length; i++) {
      acc += weights[i]! / sum;
      const upto = Math.min(65536, Math.round(acc * 65536));
      for (; j < upto; j++) this.zipf[j] = i;
    }
    for (; j < 65536; j++) this.zipf[j] = words.length - 1;
    this.phrases = [];
    for (let i = 0; i < words.length; i++) {
      const n = rng.range(2, 7);
      const ws: string[] = [];
      for (let j = 0; j < n; j++) ws.push(words[this.zipf[rng.int(65536)]!]!);
      this.phrases.push(Buffer.from(ws.join(' ')));
    }
    this.components = [];
    for (let i = 0; i < 24; i++) this.components.push(Buffer.from(`${rng.pick(COMMON_WORDS)}-${rng.range(1, 40)}`));
  }
}

const vocabCache = new Map<string, Vocabulary>();
function vocabulary(seed: string): Vocabulary {
  let v = vocabCache.get(seed);
  if (!v) {
    v = new Vocabulary(seed);
    vocabCache.set(seed, v);
  }
  return v;
}

/** Streams text-like bytes (prose or log lines) with a zstd -3 ratio of roughly 0.2–0.3. */
export class TextGen {
  private readonly v: Vocabulary;
  private r16: Uint16Array = new Uint16Array(0);
  private rpos = 0;
  // Pending bytes of the current token that did not fit in the last buffer.
  private pending: Buffer = Buffer.alloc(0);
  private col = 0;
  private sentenceLeft = 0;
  private clockMs: number;

  constructor(
    seed: string,
    private readonly rng: KeyStream,
    private readonly mode: TextMode,
  ) {
    this.v = vocabulary(seed);
    this.clockMs = Date.UTC(2024, 0, 1) + rng.int(300 * 24 * 3600) * 1000;
  }

  private u16(): number {
    if (this.rpos >= this.r16.length) {
      const b = this.rng.bytes(64 * 1024);
      this.r16 = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
      this.rpos = 0;
    }
    return this.r16[this.rpos++]!;
  }

  private word(cap: boolean): Buffer {
    const i = this.v.zipf[this.u16()]!;
    return cap ? this.v.capWords[i]! : this.v.words[i]!;
  }

  /** A single word or (often) a recurring phrase. */
  private wordOrPhrase(): Buffer {
    return this.u16() % 8 < 3 ? this.v.phrases[this.v.zipf[this.u16()]!]! : this.word(false);
  }

  private number(): Buffer {
    const digits = 1 + (this.u16() % 5);
    const b = Buffer.allocUnsafe(digits);
    for (let i = 0; i < digits; i++) b[i] = 0x30 + (this.u16() % 10);
    return b;
  }

  /** Next token of prose, including its trailing separator. */
  private proseToken(): Buffer {
    const parts: Buffer[] = [];
    const cap = this.sentenceLeft === 0;
    if (cap) this.sentenceLeft = 4 + (this.u16() % 16);
    const w = this.u16() % 40 === 0 ? this.number() : cap ? this.word(true) : this.wordOrPhrase();
    parts.push(w);
    this.sentenceLeft--;
    let sep: string;
    if (this.sentenceLeft === 0) {
      const r = this.u16() % 10;
      sep = r === 0 ? '.\n\n' : r === 1 ? '?' : '.';
    } else {
      sep = this.u16() % 12 === 0 ? ',' : '';
    }
    this.col += w.length + sep.length + 1;
    if (sep.endsWith('\n')) {
      this.col = 0;
      parts.push(sepBuf(sep));
    } else if (this.col > 72) {
      this.col = 0;
      parts.push(sepBuf(sep + '\n'));
    } else {
      parts.push(sepBuf(sep + ' '));
    }
    return Buffer.concat(parts);
  }

  /** One full log line. */
  private logLine(): Buffer {
    this.clockMs += this.u16() % 2000;
    const parts: Buffer[] = [
      Buffer.from(new Date(this.clockMs).toISOString()),
      sepBuf(' ' + LEVELS[this.u16() % LEVELS.length]! + ' ['),
      this.v.components[this.u16() % this.v.components.length]!,
      sepBuf('] '),
    ];
    const n = 2 + (this.u16() % 8);
    for (let i = 0; i < n; i++) {
      parts.push(i === 0 ? this.word(true) : this.wordOrPhrase());
      parts.push(sepBuf(' '));
    }
    if (this.u16() % 3 === 0) {
      const id = Buffer.allocUnsafe(8);
      for (let i = 0; i < 8; i++) id[i] = HEX[this.u16() & 15]!;
      parts.push(sepBuf('id='), id, sepBuf(' '));
    }
    if (this.u16() % 4 === 0) parts.push(sepBuf('ms='), this.number());
    parts.push(sepBuf('\n'));
    return Buffer.concat(parts);
  }

  /** Fill `out` completely with the next bytes of the text stream. */
  fill(out: Buffer): void {
    let pos = 0;
    let tok = this.pending;
    for (;;) {
      const room = out.length - pos;
      if (tok.length >= room) {
        tok.copy(out, pos, 0, room);
        this.pending = tok.subarray(room);
        return;
      }
      tok.copy(out, pos);
      pos += tok.length;
      tok = this.mode === 'prose' ? this.proseToken() : this.logLine();
    }
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    this.fill(b);
    return b;
  }
}

// ---------------------------------------------------------------------------
// Dataset layout and generation

export interface DatasetParams {
  generator: number;
  seed: string;
  scale: number;
  smallFiles: number;
  dirs: number;
  randomSizes: number[];
  textSizes: number[];
  dupSizes: number[];
}

export interface DatasetInfo {
  dir: string;
  params: DatasetParams;
  files: number;
  dirs: number;
  bytes: number;
  generatedSeconds?: number;
}

export function datasetParams(scale: number, seed = 'coffer-bench-1'): DatasetParams {
  const sz = (mb: number) => Math.max(64 * 1024, Math.round(mb * MB * scale));
  return {
    generator: GENERATOR_VERSION,
    seed,
    scale,
    smallFiles: Math.max(50, Math.round(30_000 * scale)),
    dirs: Math.max(6, Math.round(300 * scale)),
    randomSizes: [200, 150, 100, 50].map(sz),
    textSizes: [200, 150, 100, 50].map(sz),
    dupSizes: [120, 100, 80].map(sz),
  };
}

function markerPath(dir: string): string {
  return dir.replace(/\/+$/, '') + '.marker.json';
}

function setMtime(p: string, t: number): void {
  fs.utimesSync(p, t, t);
}

/** Log-uniform size in [0, 65535] (mean ≈ 5.9 KiB). */
function smallSize(rng: KeyStream): number {
  return Math.floor(Math.exp(rng.float() * Math.log(65536))) - 1;
}

const TEXT_EXT = ['txt', 'md', 'log', 'csv', 'json', 'c', 'ts', 'html', 'xml', 'conf'];
const BIN_EXT = ['bin', 'dat', 'jpg', 'png', 'gz', 'zip', 'o', 'pdf'];

function isTextName(name: string): boolean {
  return TEXT_EXT.includes(path.extname(name).slice(1));
}

/** Content for a small file: text-like for text extensions, random otherwise. */
function smallContent(seed: string, label: string, name: string, size: number): Buffer {
  const rng = new KeyStream(seed, label);
  if (size === 0) return Buffer.alloc(0);
  if (isTextName(name)) {
    return new TextGen(seed, rng, name.endsWith('.log') || name.endsWith('.csv') ? 'log' : 'prose').bytes(size);
  }
  return rng.bytes(size);
}

/** Write `size` bytes produced by `next(n)` to a file, in 4 MiB pieces. */
function writeStream(file: string, size: number, next: (n: number) => Buffer): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(4 * MiB, size - done);
      const b = next(n);
      fs.writeSync(fd, b, 0, b.length);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function readAt(file: string, pos: number, len: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(fd, b, got, len - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    return b.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

function fmtBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`;
}

/**
 * Generate the dataset into `dir` (via `dir.tmp` + rename) unless a marker
 * with identical parameters says it is already there.
 */
export function ensureDataset(
  dir: string,
  params: DatasetParams,
  log: (msg: string) => void = () => {},
): DatasetInfo {
  const marker = markerPath(dir);
  try {
    const m = JSON.parse(fs.readFileSync(marker, 'utf8')) as DatasetInfo;
    if (JSON.stringify(m.params) === JSON.stringify(params) && fs.existsSync(dir)) {
      log(`dataset: reusing ${dir} (${m.files} files, ${fmtBytes(m.bytes)})`);
      return { ...m, dir };
    }
  } catch {
    // no (valid) marker: generate
  }
  const t0 = performance.now();
  const tmp = dir.replace(/\/+$/, '') + '.tmp';
  fs.rmSync(marker, { force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const seed = params.seed;
  log(`dataset: generating ${tmp} (scale ${params.scale})`);

  // --- directory tree
  const layout = new KeyStream(seed, 'layout');
  const dirs: { rel: string; depth: number }[] = [{ rel: 'small', depth: 0 }];
  for (let i = 1; i < params.dirs; i++) {
    // Prefer recently created parents so the tree gets several levels deep.
    let parent = dirs[Math.max(0, dirs.length - 1 - layout.int(Math.min(dirs.length, 12)))]!;
    if (parent.depth >= 6 || layout.int(4) === 0) parent = dirs[layout.int(dirs.length)]!;
    if (parent.depth >= 7) parent = dirs[0]!;
    const name = `${String(i).padStart(3, '0')}-${layout.pick(COMMON_WORDS)}`;
    dirs.push({ rel: path.join(parent.rel, name), depth: parent.depth + 1 });
  }
  for (const d of dirs) fs.mkdirSync(path.join(tmp, d.rel), { recursive: true });

  // --- small files: a few "busy" directories hold many files
  const weights = dirs.map(() => Math.pow(layout.float(), 3) + 0.02);
  const wsum = weights.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  let acc = 0;
  for (const w of weights) cdf.push((acc += w / wsum));
  let files = 0;
  let bytes = 0;
  for (let i = 0; i < params.smallFiles; i++) {
    const u = layout.float();
    let di = cdf.findIndex((c) => c > u);
    if (di < 0) di = dirs.length - 1;
    const text = layout.int(100) < 55;
    const ext = text ? layout.pick(TEXT_EXT) : layout.pick(BIN_EXT);
    const name = `${layout.pick(COMMON_WORDS)}-${String(i).padStart(5, '0')}.${ext}`;
    const size = smallSize(layout);
    const rel = path.join(dirs[di]!.rel, name);
    const p = path.join(tmp, rel);
    fs.writeFileSync(p, smallContent(seed, `small/${i}`, name, size));
    setMtime(p, BASE_MTIME + layout.int(YEAR_S));
    files++;
    bytes += size;
  }
  log(`dataset: ${files} small files in ${dirs.length} dirs, ${fmtBytes(bytes)}`);

  // --- large random (incompressible) files
  const large = (sub: string) => {
    fs.mkdirSync(path.join(tmp, 'large', sub), { recursive: true });
    return (name: string) => path.join(tmp, 'large', sub, name);
  };
  const randomFile = large('random');
  const sources: { file: string; size: number }[] = [];
  params.randomSizes.forEach((size, i) => {
    const f = randomFile(`blob-${i}.bin`);
    const rng = new KeyStream(seed, `random/${i}`);
    writeStream(f, size, (n) => rng.bytes(n));
    sources.push({ file: f, size });
    files++;
    bytes += size;
  });

  // --- large compressible (text-like) files
  const textFile = large('text');
  params.textSizes.forEach((size, i) => {
    const mode: TextMode = i % 2 === 0 ? 'log' : 'prose';
    const f = textFile(`${mode}-${i}.${mode === 'log' ? 'log' : 'txt'}`);
    const gen = new TextGen(seed, new KeyStream(seed, `text/${i}`), mode);
    writeStream(f, size, (n) => gen.bytes(n));
    sources.push({ file: f, size });
    files++;
    bytes += size;
  });

  // --- partly duplicated files: long stretches copied from other large files
  // at arbitrary offsets, each preceded by a few inserted bytes (shift), mixed
  // with fresh random stretches.
  const dupFile = large('dup');
  params.dupSizes.forEach((size, i) => {
    const f = dupFile(`mixed-${i}.img`);
    const rng = new KeyStream(seed, `dup/${i}`);
    const fd = fs.openSync(f, 'w');
    try {
      let done = 0;
      while (done < size) {
        let len = Math.min(size - done, rng.range(2 * MiB, 16 * MiB));
        if (rng.int(100) < 70) {
          const shift = rng.bytes(Math.min(len, rng.range(1, 15)));
          fs.writeSync(fd, shift);
          done += shift.length;
          len -= shift.length;
          const src = rng.pick(sources);
          len = Math.min(len, src.size);
          const off = rng.int(src.size - len + 1);
          for (let c = 0; c < len; c += 4 * MiB) {
            const b = readAt(src.file, off + c, Math.min(4 * MiB, len - c));
            fs.writeSync(fd, b);
          }
          done += len;
        } else {
          for (let c = 0; c < len; c += 4 * MiB) fs.writeSync(fd, rng.bytes(Math.min(4 * MiB, len - c)));
          done += len;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    sources.push({ file: f, size });
    files++;
    bytes += size;
  });

  // Deterministic mtimes for large files and all directories (deepest first).
  const mt = new KeyStream(seed, 'mtimes');
  for (const s of sources) setMtime(s.file, BASE_MTIME + mt.int(YEAR_S));
  const allDirs = [
    ...dirs.map((d) => path.join(tmp, d.rel)),
    ...['random', 'text', 'dup'].map((s) => path.join(tmp, 'large', s)),
    path.join(tmp, 'large'),
  ].sort((a, b) => b.length - a.length);
  for (const d of allDirs) setMtime(d, BASE_MTIME + mt.int(YEAR_S));
  setMtime(tmp, BASE_MTIME);

  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  const info: DatasetInfo = {
    dir,
    params,
    files,
    dirs: allDirs.length,
    bytes,
    generatedSeconds: (performance.now() - t0) / 1000,
  };
  fs.writeFileSync(marker, JSON.stringify(info, null, 2) + '\n');
  log(`dataset: done, ${files} files, ${fmtBytes(bytes)} in ${info.generatedSeconds!.toFixed(1)} s`);
  return info;
}

// ---------------------------------------------------------------------------
// Walking, manifests

export interface Entry {
  rel: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mtimeMs: number;
}

/** Sorted, depth-first walk (lstat on every entry). The root itself is not included. */
export function walk(root: string): Entry[] {
  const out: Entry[] = [];
  const rec = (rel: string) => {
    const names = fs.readdirSync(path.join(root, rel)).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, r));
      const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
      out.push({ rel: r, type, size: type === 'file' ? st.size : 0, mtimeMs: st.mtimeMs });
      if (type === 'dir') rec(r);
    }
  };
  rec('');
  return out;
}

export interface ManifestEntry extends Entry {
  sha256?: string;
}

const HASH_BUF = Buffer.allocUnsafe(8 * MiB);

function hashFile(p: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(p, 'r');
  try {
    for (;;) {
      const n = fs.readSync(fd, HASH_BUF, 0, HASH_BUF.length, null);
      if (n === 0) break;
      h.update(HASH_BUF.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Path, type, size and content hash (files) of every entry under root. */
export function manifest(root: string): Map<string, ManifestEntry> {
  const m = new Map<string, ManifestEntry>();
  for (const e of walk(root)) {
    const me: ManifestEntry = { ...e };
    if (e.type === 'file') me.sha256 = hashFile(path.join(root, e.rel));
    else if (e.type === 'symlink') me.sha256 = fs.readlinkSync(path.join(root, e.rel));
    m.set(e.rel, me);
  }
  return m;
}

export interface ManifestDiff {
  equal: boolean;
  /** Content/structure differences (a restore bug). */
  problems: string[];
  problemCount: number;
  /** Regular files whose mtime differs (informational). */
  mtimeMismatches: number;
}

export function compareManifests(
  expected: Map<string, ManifestEntry>,
  actual: Map<string, ManifestEntry>,
  maxListed = 20,
): ManifestDiff {
  const problems: string[] = [];
  let count = 0;
  let mtimeMismatches = 0;
  const add = (s: string) => {
    count++;
    if (problems.length < maxListed) problems.push(s);
  };
  for (const [rel, e] of expected) {
    const a = actual.get(rel);
    if (!a) add(`missing: ${rel} (${e.type})`);
    else if (a.type !== e.type) add(`type: ${rel} expected ${e.type}, got ${a.type}`);
    else if (a.size !== e.size) add(`size: ${rel} expected ${e.size}, got ${a.size}`);
    else if (a.sha256 !== e.sha256) add(`content: ${rel} (sha256 differs)`);
    else if (e.type === 'file' && Math.floor(a.mtimeMs / 1000) !== Math.floor(e.mtimeMs / 1000)) mtimeMismatches++;
  }
  for (const [rel, a] of actual) if (!expected.has(rel)) add(`extra: ${rel} (${a.type})`);
  return { equal: count === 0, problems, problemCount: count, mtimeMismatches };
}

// ---------------------------------------------------------------------------
// Mutation

export interface MutationSummary {
  seed: string;
  pct: number;
  filesConsidered: number;
  rewritten: number;
  touched: number;
  deleted: number;
  added: number;
  largeModified: number;
  bytesWritten: number;
}

/**
 * Deterministically change ~pct% of the files under `dir`: rewrite some small
 * files (new size and content), touch the mtime of others (same content),
 * delete a few, add a few, and overwrite a region in two large files. Given the
 * same tree and seed, the result is byte-for-byte (and mtime) identical.
 */
export function mutatePercent(dir: string, pct: number, seed: string | number): MutationSummary {
  const s = String(seed);
  const rng = new KeyStream(s, `mutate/${pct}`);
  const entries = walk(dir);
  const files = entries.filter((e) => e.type === 'file');
  const small = files.filter((e) => e.size < MiB);
  const large = files.filter((e) => e.size >= MiB);
  const dirs = entries.filter((e) => e.type === 'dir');
  const T = BASE_MTIME + 400 * 24 * 3600; // after every generated mtime
  const k = Math.max(4, Math.round((files.length * pct) / 100));
  const sum: MutationSummary = {
    seed: s,
    pct,
    filesConsidered: files.length,
    rewritten: 0,
    touched: 0,
    deleted: 0,
    added: 0,
    largeModified: 0,
    bytesWritten: 0,
  };

  const touchedDirs = new Set<string>();
  // Partial Fisher–Yates over the small files.
  const pool = [...small];
  const picked: Entry[] = [];
  for (let i = 0; i < Math.min(k, pool.length); i++) {
    const j = i + rng.int(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    picked.push(pool[i]!);
  }
  picked.forEach((e, i) => {
    const p = path.join(dir, e.rel);
    const frac = i / picked.length;
    if (frac < 0.6) {
      const size = smallSize(rng);
      fs.writeFileSync(p, smallContent(s, `mutate/rewrite/${e.rel}`, e.rel, size));
      setMtime(p, T + i);
      sum.rewritten++;
      sum.bytesWritten += size;
    } else if (frac < 0.9) {
      setMtime(p, T + i);
      sum.touched++;
    } else {
      fs.rmSync(p);
      touchedDirs.add(path.dirname(p));
      sum.deleted++;
    }
  });
  const nAdd = Math.max(1, Math.round(k * 0.1));
  for (let i = 0; i < nAdd; i++) {
    const d = rng.pick(dirs);
    const text = rng.int(2) === 0;
    const name = `added-${i}.${text ? 'txt' : 'bin'}`;
    const size = smallSize(rng);
    const p = path.join(dir, d.rel, name);
    fs.writeFileSync(p, smallContent(s, `mutate/add/${i}`, name, size));
    setMtime(p, T + 10_000 + i);
    touchedDirs.add(path.dirname(p));
    sum.added++;
    sum.bytesWritten += size;
  }

  // Overwrite a region (in place) in two large files.
  const lpool = [...large];
  for (let i = 0; i < Math.min(2, lpool.length); i++) {
    const j = i + rng.int(lpool.length - i);
    [lpool[i], lpool[j]] = [lpool[j]!, lpool[i]!];
    const e = lpool[i]!;
    const p = path.join(dir, e.rel);
    const len = Math.min(e.size, Math.max(64 * 1024, Math.min(4 * MiB, Math.round(e.size / 50))));
    const off = rng.int(e.size - len + 1);
    const data = isTextName(e.rel)
      ? new TextGen(s, new KeyStream(s, `mutate/large/${e.rel}`), 'prose').bytes(len)
      : new KeyStream(s, `mutate/large/${e.rel}`).bytes(len);
    const fd = fs.openSync(p, 'r+');
    try {
      fs.writeSync(fd, data, 0, data.length, off);
    } finally {
      fs.closeSync(fd);
    }
    setMtime(p, T + 20_000 + i);
    sum.largeModified++;
    sum.bytesWritten += len;
  }
  // Keep directory mtimes deterministic too.
  for (const d of touchedDirs) setMtime(d, T + 30_000);
  return sum;
}
