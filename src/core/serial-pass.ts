/**
 * A pass over a queue (claim what is due, start it) run on demand, one pass at a time: a wake while
 * a pass runs asks for exactly one more pass after it, however many wakes came meanwhile, so work
 * enqueued during a pass is never missed and a burst of wakes costs two passes, not one each.
 * Used by the job runner and the notification dispatcher, which both poll and are also woken.
 */
export class SerialPass {
  private running = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.pass().catch(this.onError).finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** No pass starts after this (one under way finishes on its own). */
  stop(): void {
    this.stopped = true;
  }
}
