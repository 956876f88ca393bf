/**
 * The back-pressure count for MAX_PENDING: entries queued in Redis by every replica, as last
 * read, plus this process's adds that read may not include.
 *
 * A depth read races this process's own adds: an add sent before the read may land after it, and
 * one confirmed while the read is out may or may not be in it. Resetting the local count when a
 * read returns (as a plain "adds since the last read" counter would) forgets those adds, and
 * under a burst the limit lets through far more than MAX_PENDING. So the gauge keeps every add
 * still unconfirmed, plus every add confirmed since the read it holds was sent. Some adds are
 * then counted twice until the next read; erring high only pushes back a little early.
 */
export class PendingGauge {
  private depth = 0;
  /** Adds sent to Redis and not yet confirmed. */
  private inFlight = 0;
  /** Adds confirmed since the read behind `depth` was sent. */
  private counted = 0;
  /** Adds confirmed since the read in progress was sent. */
  private sinceReadStart = 0;
  private reading = false;

  /** The depth as last read (all replicas); for metrics. */
  get queueDepth(): number {
    return this.depth;
  }

  get pending(): number {
    return this.depth + this.inFlight + this.counted;
  }

  addSent(): void {
    this.inFlight++;
  }

  /** `queued` is false when the add failed: the entry is not in Redis. */
  addSettled(queued: boolean): void {
    this.inFlight--;
    if (!queued) return;
    this.counted++;
    this.sinceReadStart++;
  }

  /** Runs one depth read unless one is already out. */
  async refresh(read: () => Promise<number>): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    this.sinceReadStart = 0;
    try {
      const depth = await read();
      this.depth = depth;
      this.counted = this.sinceReadStart;
    } finally {
      this.reading = false;
    }
  }
}
