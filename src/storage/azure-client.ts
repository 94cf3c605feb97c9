/**
 * The one module that builds @azure/storage-blob clients (STYLE K4): credentials, and the retry
 * behaviour chosen on purpose rather than left at the SDK's defaults.
 *
 * The SDK's storage retry policy already retries, with exponential backoff, dropped and refused
 * connections (ECONNRESET, EPIPE, ETIMEDOUT, …) and the statuses Azure Storage uses for throttling
 * and transient faults: 503 ServerBusy and 500 InternalError/OperationTimedOut. Its defaults
 * (4 s base delay, 120 s cap) make a short outage look like a hang, so the delays are tightened.
 * Two gaps are filled by one small per-try policy: 429/502/504, which gateways and proxies in front
 * of storage send, are retried too (honouring Retry-After), and a try that gets no answer within
 * `tryTimeoutMs` is abandoned and retried instead of waiting forever.
 */
import type { PipelinePolicy, PipelineRequest, PipelineResponse, SendRequest } from '@azure/core-rest-pipeline';
import { AnonymousCredential, ContainerClient, RestError, StorageRetryPolicyType, StorageSharedKeyCredential, newPipeline } from '@azure/storage-blob';
import { type AzureConfig, type AzureRetrySettings, DEFAULT_RETRY } from './azure-config.js';

const ALSO_TRANSIENT = new Set([429, 502, 504]);

export function containerClient(cfg: AzureConfig, retry: AzureRetrySettings = DEFAULT_RETRY): ContainerClient {
  const containerUrl = `${cfg.accountUrl}/${cfg.container}`;
  const credential = cfg.auth.kind === 'shared-key' ? new StorageSharedKeyCredential(cfg.auth.accountName, cfg.auth.accountKey) : new AnonymousCredential();
  const pipeline = newPipeline(credential, {
    retryOptions: {
      retryPolicyType: StorageRetryPolicyType.EXPONENTIAL,
      maxTries: retry.maxTries,
      retryDelayInMs: retry.retryDelayMs,
      maxRetryDelayInMs: retry.maxRetryDelayMs,
    },
  });
  const url = cfg.auth.kind === 'sas' ? `${containerUrl}?${cfg.auth.sas}` : containerUrl;
  const client = new ContainerClient(url, pipeline);
  corePipelineOf(client).addPolicy(perTryPolicy(retry), { afterPhase: 'Retry' });
  return client;
}

interface CorePipeline {
  addPolicy(policy: PipelinePolicy, options: { afterPhase: 'Retry' }): void;
}

/**
 * The HTTP pipeline the SDK built for this client; clients derived from it (`getBlockBlobClient`)
 * share it, so a policy added here applies to every request of the backend. The SDK offers no
 * public hook for a policy inside its retry loop; this reaches one level in and fails loudly if a
 * new SDK version moves it (the version is pinned in package.json).
 */
function corePipelineOf(client: ContainerClient): CorePipeline {
  const context = (client as unknown as { storageClientContext?: { pipeline?: Partial<CorePipeline> } }).storageClientContext;
  const pipeline = context?.pipeline;
  if (typeof pipeline?.addPolicy !== 'function') throw new Error('@azure/storage-blob changed its internals: cannot install Coffer\'s retry policy (check the pinned SDK version)');
  return pipeline as CorePipeline;
}

function perTryPolicy(retry: AzureRetrySettings): PipelinePolicy {
  return {
    name: 'cofferPerTry',
    async sendRequest(request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> {
      for (let attempt = 1; ; attempt++) {
        const response = await sendWithTimeout(request, next, retry.tryTimeoutMs);
        if (!ALSO_TRANSIENT.has(response.status) || attempt >= retry.maxTries) return response;
        // Free the connection of the answer we drop.
        response.readableStreamBody?.resume();
        await sleep(backoff(attempt, retry, response.headers.get('retry-after')), request.abortSignal);
      }
    },
  };
}

async function sendWithTimeout(request: PipelineRequest, next: SendRequest, timeoutMs: number): Promise<PipelineResponse> {
  if (!(request.timeout > 0)) request.timeout = timeoutMs;
  try {
    return await next(request);
  } catch (err) {
    // The HTTP client aborts a try that outlives `timeout` with an AbortError, which the storage retry
    // policy would not retry; as a RestError with code TIMEOUT it is retried like a dropped connection.
    if ((err as Error).name === 'AbortError' && !request.abortSignal?.aborted) {
      throw new RestError(`no answer within ${Math.round(request.timeout / 1000)} s`, { code: 'TIMEOUT', request });
    }
    throw err;
  }
}

function backoff(attempt: number, retry: AzureRetrySettings, retryAfter: string | undefined): number {
  const seconds = retryAfter !== undefined ? Number(retryAfter) : NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, retry.maxRetryDelayMs);
  const exp = Math.min(retry.retryDelayMs * 2 ** (attempt - 1), retry.maxRetryDelayMs);
  // Jitter so that many uploads throttled together do not come back together.
  return exp / 2 + Math.random() * (exp / 2);
}

type Abortable = Pick<AbortSignal, 'aborted' | 'addEventListener' | 'removeEventListener'>;

function sleep(ms: number, signal: Abortable | undefined): Promise<void> {
  const aborted = (): Error => Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(aborted());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
