/**
 * The chunker polynomial stored in `config`: a random irreducible polynomial of degree 53 over
 * GF(2), as restic generates it. restic itself uses it for Rabin fingerprints; Coffer derives its
 * FastCDC gear table from it, so the value must be secret and per-repository, and it must be a
 * valid polynomial so that restic can keep backing up into a repository Coffer created.
 */
import { randomBytes } from 'node:crypto';

function degree(p: bigint): number {
  return p === 0n ? -1 : p.toString(2).length - 1;
}

function mod(a: bigint, m: bigint): bigint {
  const dm = degree(m);
  let d = degree(a);
  while (d >= dm) {
    a ^= m << BigInt(d - dm);
    d = degree(a);
  }
  return a;
}

function mulMod(a: bigint, b: bigint, m: bigint): bigint {
  let result = 0n;
  while (b > 0n) {
    if (b & 1n) result ^= a;
    b >>= 1n;
    a = mod(a << 1n, m);
  }
  return mod(result, m);
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, mod(a, b)];
  return a;
}

/** Ben-Or's test: f of degree n is irreducible iff gcd(f, x^(2^i) - x) = 1 for i = 1..n/2. */
export function isIrreducible(f: bigint): boolean {
  const n = degree(f);
  let x2i = 2n; // the polynomial "x"
  for (let i = 1; i <= n / 2; i++) {
    x2i = mulMod(x2i, x2i, f);
    if (gcd(f, x2i ^ 2n) !== 1n) return false;
  }
  return true;
}

export function randomPolynomial(): bigint {
  for (;;) {
    const raw = randomBytes(8).readBigUInt64LE();
    // Degree exactly 53: clear the bits above, set bit 53; an odd constant term is needed too.
    const p = (raw & ((1n << 53n) - 1n)) | (1n << 53n) | 1n;
    if (isIrreducible(p)) return p;
  }
}

export function polynomialToHex(p: bigint): string {
  return p.toString(16);
}
