/**
 * When and how the S3 backend tries again: exponential backoff with full jitter on server errors
 * (5xx), throttling (503 SlowDown, 429) and dropped or timed-out connections; never on 4xx answers
 * such as 403 or 404, which fail at once.
 *
 * The SDK's retry middleware runs this policy for each request whose body it can resend (we only
 * give it buffers, never streams: the middleware refuses to retry a consumed stream). What the
 * middleware cannot see, a response body cut off after its headers arrived, `retryBodyRead` covers.
 * We implement the SDK's strategy interface ourselves because its standard one also spends a
 * shared retry budget that a run of injected or real faults drains, after which it stops retrying.
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';

type RetryStrategyV2 = Extract<NonNullable<S3ClientConfig['retryStrategy']>, { acquireInitialRetryToken: unknown }>;
type RetryToken = Awaited<ReturnType<RetryStrategyV2['acquireInitialRetryToken']>>;
type RetryErrorInfo = Parameters<RetryStrategyV2['refreshRetryTokenForRetry']>[1];

export interface Backoff {
  /** Delay before the first retry; doubles each time. */
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 200, capMs: 15_000 };

/** Full jitter (a uniform pick below the exponential bound) spreads clients that failed together. */
export function backoffDelay(retry: number, backoff: Backoff, random: () => number = Math.random): number {
  const bound = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * bound);
}

function token(retries: number, delay: number): RetryToken {
  return { getRetryCount: () => retries, getRetryDelay: () => delay };
}

export class BackoffRetryStrategy implements RetryStrategyV2 {
  readonly mode = 'standard';

  constructor(
    private readonly maxAttempts: number,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {}

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return token(0, 0);
  }

  async refreshRetryTokenForRetry(previous: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
    const retries = previous.getRetryCount() + 1;
    // CLIENT_ERROR covers every 4xx but 429: a wrong key or a missing object does not get better.
    if (info.errorType === 'CLIENT_ERROR' || retries >= this.maxAttempts) throw info.error ?? new Error('S3 request failed');
    let delay = backoffDelay(retries, this.backoff);
    if (info.retryAfterHint) delay = Math.min(this.backoff.capMs, Math.max(delay, info.retryAfterHint.getTime() - Date.now()));
    return token(retries, delay);
  }

  recordSuccess(): void {}
}

/** A response body broke off mid-way (connection reset, timeout): the request itself may be repeated. */
export class BodyReadInterrupted extends Error {
  constructor(cause: unknown) {
    super(`the response body was cut off: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'BodyReadInterrupted';
  }
}

/** Runs `attempt` again, after a backoff delay, when it fails with `BodyReadInterrupted`. */
export async function retryBodyRead<T>(attempt: () => Promise<T>, maxAttempts: number, backoff: Backoff = DEFAULT_BACKOFF): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof BodyReadInterrupted) || n >= maxAttempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(n, backoff)));
    }
  }
}
