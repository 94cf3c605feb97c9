/** One HTTP request of a delivery: a bounded wait, and any status but 2xx is a failure. */

/** A receiver that does not answer within this long has failed this attempt. */
export const SEND_TIMEOUT_MS = 15_000;

export interface SendResult {
  /** The receiver's HTTP status, when it answered. */
  status: number | null;
}

export class DeliveryError extends Error {
  constructor(message: string, readonly status: number | null) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export async function post(url: string, body: string, contentType: string): Promise<SendResult> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType, 'user-agent': 'coffer-notifications' }, body, signal: AbortSignal.timeout(SEND_TIMEOUT_MS), redirect: 'error' });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new DeliveryError(cause?.message ?? (err as Error).message, null);
  }
  // The body is read (and dropped) so that the connection is released.
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new DeliveryError(`the receiver answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, res.status);
  return { status: res.status };
}
