/**
 * How `coffer serve` meets the network: HTTPS from a certificate and key file (read and checked at
 * start, read again on SIGHUP for new connections, so that a renewal hook can swap them without a
 * restart), and the warning that a server listening beyond loopback without TLS sends passwords
 * and API keys in clear.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as TlsServer } from 'node:tls';
import { createSecureContext } from 'node:tls';

export interface TlsFiles {
  cert: string;
  key: string;
}

/** A certificate (with its chain) and its private key, as Node's TLS takes them. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** For the log: subject, expiry and SHA-256 fingerprint of the leaf certificate. */
  describe: string;
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(err as Error).message}`);
  }
}

/**
 * Reads both files and checks that they make a usable TLS context (PEM that parses, a key that
 * belongs to the certificate); throws an error naming the files otherwise.
 */
export function loadTlsFiles(files: TlsFiles): TlsMaterial {
  const cert = readPem(files.cert, 'certificate');
  const key = readPem(files.key, 'key');
  let leaf: X509Certificate;
  try {
    createSecureContext({ cert, key });
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`the TLS certificate ${files.cert} and key ${files.key} are not usable: ${(err as Error).message}`);
  }
  const subject = leaf.subject.replace(/\n/g, ', ');
  return { cert, key, describe: `${subject}, valid until ${leaf.validTo}, SHA-256 ${leaf.fingerprint256}` };
}

/**
 * On SIGHUP, reads the files again and hands them to the server for the connections that follow
 * (open ones keep the certificate they started with). A reload that fails leaves the server on
 * the certificate it had and logs why. Returns the function that stops listening for SIGHUP.
 */
export function reloadTlsOnSighup(server: TlsServer, files: TlsFiles, log: { info(msg: string): void; error(msg: string, err: unknown): void }): () => void {
  const reload = (): void => {
    let material: TlsMaterial;
    try {
      material = loadTlsFiles(files);
    } catch (err) {
      log.error(`TLS reload on SIGHUP failed; still serving the previous certificate: ${(err as Error).message}`, err);
      return;
    }
    server.setSecureContext({ cert: material.cert, key: material.key });
    log.info(`TLS certificate reloaded on SIGHUP: ${material.describe}`);
  };
  process.on('SIGHUP', reload);
  return () => process.off('SIGHUP', reload);
}

/** Whether an address the server is bound to is reachable only from this machine. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === 'localhost' || a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * The warning for a server that others can reach over plain HTTP, where nothing else encrypts
 * (no --trust-proxy: no TLS-terminating proxy in front); undefined when there is nothing to warn of.
 */
export function cleartextWarning(o: { address: string; tls: boolean; trustProxy: boolean }): string | undefined {
  if (o.tls || o.trustProxy || isLoopbackAddress(o.address)) return undefined;
  return `listening on ${o.address} over plain HTTP: passwords and API keys would cross the network in clear. ` +
    'Give --tls-cert and --tls-key, put a TLS reverse proxy in front (with --trust-proxy), or bind to 127.0.0.1; see docs/exposing.md';
}
