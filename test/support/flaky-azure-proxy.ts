/**
 * An HTTP proxy in front of a storage server that misbehaves the way real services and networks do,
 * for a share of requests chosen by a seeded generator (reproducible runs):
 * - `busy`: reads the request, answers 503 with Azure's `ServerBusy` error (throttling);
 * - `throttled`: answers 429 with `Retry-After: 0` (what gateways in front of storage send);
 * - `dropped`: closes the connection before the request reaches the server;
 * - `lostAnswer`: forwards the request (it takes effect) and closes the connection instead of answering;
 * - `cutBody`: forwards a download and closes the connection half-way through the body.
 * With all rates at 0 it is a plain forwarder (used to put Azurite on a port restic expects).
 * `forceNext` gives the next requests chosen treatments, including `silent` (never answers).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultRates {
  readonly busy: number;
  readonly throttled: number;
  readonly dropped: number;
  readonly lostAnswer: number;
  readonly cutBody: number;
}

export type FaultKind = keyof FaultRates;
export type Treatment = FaultKind | 'silent' | 'forwarded';

export const NO_FAULTS: FaultRates = { busy: 0, throttled: 0, dropped: 0, lostAnswer: 0, cutBody: 0 };

export interface FlakyProxy {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** How many requests got each treatment (`forwarded`: passed through untouched). */
  readonly counts: Record<Treatment, number>;
  setRates(rates: FaultRates): void;
  /** The next requests get these treatments, in order, before the rates apply again. */
  forceNext(...treatments: Treatment[]): void;
  stop(): Promise<void>;
}

export async function startFlakyProxy(upstream: string, rates: FaultRates, opts: { port?: number; seed?: number } = {}): Promise<FlakyProxy> {
  const target = new URL(upstream);
  let current = rates;
  let state = (opts.seed ?? 12345) >>> 0 || 1;
  const random = (): number => {
    // xorshift32: the same faults in the same order on every run with the same requests.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
  const counts: Record<Treatment, number> = { forwarded: 0, busy: 0, throttled: 0, dropped: 0, lostAnswer: 0, cutBody: 0, silent: 0 };
  const forced: Treatment[] = [];
  const agent = new http.Agent({ keepAlive: false });

  const choose = (req: http.IncomingMessage): Treatment => {
    const next = forced.shift();
    if (next !== undefined) return next;
    let r = random();
    for (const kind of ['busy', 'throttled', 'dropped', 'lostAnswer', 'cutBody'] as const) {
      if (kind === 'cutBody' && req.method !== 'GET') continue;
      if (r < current[kind]) return kind;
      r -= current[kind];
    }
    return 'forwarded';
  };

  const server = http.createServer((req, res) => {
    const kind = choose(req);
    counts[kind]++;
    switch (kind) {
      case 'dropped':
        req.socket.destroy();
        return;
      case 'silent':
        req.resume();
        return;
      case 'busy':
        req.resume();
        req.on('end', () => {
          const body = '<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>The server is busy (injected by the test proxy).</Message></Error>';
          res.writeHead(503, { 'content-type': 'application/xml', 'x-ms-error-code': 'ServerBusy', 'content-length': Buffer.byteLength(body), connection: 'close' });
          res.end(body);
        });
        return;
      case 'throttled':
        req.resume();
        req.on('end', () => {
          res.writeHead(429, { 'retry-after': '0', 'content-length': 0, connection: 'close' });
          res.end();
        });
        return;
      default:
        forward(req, res, kind);
    }
  });

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, kind: Treatment): void => {
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent },
      (upRes) => {
        if (kind === 'lostAnswer') {
          upRes.resume();
          upRes.on('end', () => req.socket.destroy());
          return;
        }
        if (kind === 'cutBody') {
          const chunks: Buffer[] = [];
          upRes.on('data', (c: Buffer) => chunks.push(c));
          upRes.on('end', () => {
            const body = Buffer.concat(chunks);
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            // Half the body, then the connection goes away, as when a network path breaks mid-transfer.
            res.write(body.subarray(0, Math.floor(body.length / 2)), () => req.socket.destroy());
          });
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => req.socket.destroy());
    req.pipe(up);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    counts,
    setRates(r) {
      current = r;
    },
    forceNext(...treatments) {
      forced.push(...treatments);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
