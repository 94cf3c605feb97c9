/**
 * Transfer URLs arrive from the network (any broker client may send a restore's `https.url`), so by
 * default a transfer must not reach this host or its private networks: a server there would become
 * reachable through Coffer (SSRF). The check runs where the connection is made, on the addresses
 * DNS gave (a custom `lookup`), so every redirect and a name that re-resolves differently
 * (DNS rebinding) are checked too; IP literals, which Node connects to without a lookup, are
 * checked before the request.
 */
import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { TransferError } from './errors.js';

/** Loopback, link-local, private (RFC 1918, ULA), CGNAT, unspecified, multicast and reserved ranges. */
const PRIVATE = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(prefix, bits, 'ipv4');
for (const [prefix, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8]] as const) {
  PRIVATE.addSubnet(prefix, bits, 'ipv6');
}

/** True for an address a transfer may not reach unless private URLs are allowed (IPv4-mapped IPv6 included). */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family === 6) {
    const mapped = mappedIpv4(address);
    return mapped !== undefined ? PRIVATE.check(mapped, 'ipv4') : PRIVATE.check(address, 'ipv6');
  }
  return true;
}

/** `::ffff:a.b.c.d` or `::ffff:7f00:1` as `a.b.c.d`. */
function mappedIpv4(v6: string): string | undefined {
  const m = /^(?:0*:)*:?ffff:(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(v6);
  if (!m) return undefined;
  if (m[1]) return m[1];
  const hi = parseInt(m[2]!, 16);
  const lo = parseInt(m[3]!, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

export class PrivateAddressError extends TransferError {
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, a loopback, link-local or private address; transfers there are refused (see --kanto-allow-private-urls)`);
  }
}

/** Refuses a URL whose host is a private IP literal (Node skips `lookup` for literals). */
export function checkLiteralHost(url: URL): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host) !== 0 && isPrivateAddress(host)) throw new PrivateAddressError(host, host);
}

/** A `lookup` for sockets: resolves as usual and keeps only public addresses, failing when none is left. */
export const publicOnlyLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) {
      callback(err, '', 0);
      return;
    }
    const allowed = addresses.filter((a) => !isPrivateAddress(a.address));
    if (allowed.length === 0) {
      callback(new PrivateAddressError(hostname, addresses[0]?.address ?? '?'), '', 0);
      return;
    }
    if (options.all) (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, allowed);
    else callback(null, allowed[0]!.address, allowed[0]!.family);
  });
};

/**
 * Agents for SDK clients (S3, Azure) that connect only to public addresses, checked as the HTTPS
 * provider checks: the endpoint's literal host first, then every address DNS gives at connection
 * time. Undefined when private addresses are allowed (the SDKs' own agents are used then).
 */
export function publicOnlyAgents(endpoint: string | undefined, allowPrivate: boolean | undefined): { http: http.Agent; https: https.Agent } | undefined {
  if (allowPrivate) return undefined;
  if (endpoint !== undefined) checkLiteralHost(new URL(endpoint));
  return { http: new http.Agent({ lookup: publicOnlyLookup }), https: new https.Agent({ lookup: publicOnlyLookup }) };
}
