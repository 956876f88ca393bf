/**
 * A background pass repeated until stopped: again at once while passes find work or after a
 * kick, after `idleMs` when one finds none or fails. At most one pass runs at a time, and stop()
 * waits for the running one, so a shutdown never cuts a transaction in half.
 */
export class PollingLoop {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    /** One pass; resolves true when it did work (so the next pass should follow at once). */
    private readonly pass: () => Promise<boolean>,
    private readonly idleMs: () => number,
    private readonly onError: (e: unknown) => void,
  ) {}

  get active(): boolean {
    return !this.stopped;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Run a pass now instead of at the next wake-up; a pass already running is followed by one at once. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.once().finally(() => (this.running = undefined));
    }, ms);
  }

  private async once(): Promise<void> {
    let worked = false;
    try {
      worked = await this.pass();
    } catch (e) {
      this.onError(e);
    }
    const again = this.again;
    this.again = false;
    this.schedule(worked || again ? 0 : this.idleMs());
  }
}
