/**
 * A fault-injecting HTTP proxy for object-storage tests: it sits between a client and a real server
 * and spoils a share of the requests the way real networks and busy servers do. A seeded generator
 * picks the victims, so a failing run can be repeated.
 *
 * - `slowdown`: 503 SlowDown without forwarding (a throttling server).
 * - `internal`: 500 InternalError without forwarding.
 * - `drop-request`: the connection is cut while the request body arrives; nothing is forwarded.
 * - `drop-response`: the request is forwarded and done by the server, then the connection is cut
 *   before the answer (no body to cut) or half-way through its body: the client cannot tell
 *   whether the request took effect.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'slowdown' | 'internal' | 'drop-request' | 'drop-response';
export const FAULTS: readonly Fault[] = ['slowdown', 'internal', 'drop-request', 'drop-response'];

export interface FlakyProxy {
  /** `http://127.0.0.1:<port>`: use it as the S3 endpoint. */
  readonly endpoint: string;
  /** How many requests passed through untouched, and how many got each fault. */
  readonly counts: Record<Fault | 'passed', number>;
  /** Share of requests (0…1) that get a fault; change it at any time. */
  failureRate: number;
  /** Gives `fault` to the next request that `matches` (once), whatever the failure rate. */
  injectOnce(matches: (method: string, url: string) => boolean, fault: Fault): void;
  close(): Promise<void>;
}

function xorshift(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function s3ErrorBody(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>flaky-proxy</RequestId></Error>`;
}

export async function startFlakyProxy(upstream: string, opts: { failureRate: number; seed?: number }): Promise<FlakyProxy> {
  const target = new URL(upstream);
  const random = xorshift(opts.seed ?? 1);
  const agent = new http.Agent({ keepAlive: true });
  const counts: Record<Fault | 'passed', number> = { passed: 0, slowdown: 0, internal: 0, 'drop-request': 0, 'drop-response': 0 };
  const proxy: { failureRate: number } = { failureRate: opts.failureRate };
  const planned: { matches: (method: string, url: string) => boolean; fault: Fault }[] = [];

  const server = http.createServer((req, res) => {
    const plan = planned.findIndex((p) => p.matches(req.method ?? '', req.url ?? ''));
    const fault = plan >= 0 ? planned.splice(plan, 1)[0]!.fault : random() < proxy.failureRate ? FAULTS[Math.floor(random() * FAULTS.length)]! : undefined;
    counts[fault ?? 'passed']++;
    if (fault === 'slowdown' || fault === 'internal') {
      req.resume();
      req.once('end', () => {
        const [status, code] = fault === 'slowdown' ? [503, 'SlowDown'] : [500, 'InternalError'];
        const body = s3ErrorBody(code, `injected by the test proxy`);
        res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
      return;
    }
    if (fault === 'drop-request') {
      // Cut after the first piece of the body (or at once when there is none).
      const length = Number(req.headers['content-length'] ?? 0);
      if (length === 0) return void req.socket.destroy();
      req.once('data', () => req.socket.destroy());
      return;
    }
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upRes) => {
        if (fault !== 'drop-response') {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          return void upRes.pipe(res);
        }
        const length = Number(upRes.headers['content-length'] ?? 0);
        if (req.method === 'HEAD' || length < 2) {
          // Nothing to cut in half: the server did the work, the client gets a dead connection.
          upRes.resume();
          return void res.socket?.destroy();
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (sent >= length / 2) return;
          const part = chunk.subarray(0, Math.max(0, Math.ceil(length / 2) - sent));
          sent += part.length;
          res.write(part);
          if (sent >= length / 2) {
            upRes.destroy();
            setImmediate(() => res.socket?.destroy());
          }
        });
      },
    );
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    get failureRate() {
      return proxy.failureRate;
    },
    set failureRate(rate: number) {
      proxy.failureRate = rate;
    },
    injectOnce(matches, fault) {
      planned.push({ matches, fault });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
