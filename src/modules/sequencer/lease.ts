import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { SqlTx, VellumDatabase } from '../storage/database';
import { num } from '../storage/sql';
import { VellumError } from '../../core/errors';

const LEASE_NAME = 'sequencer';

/** `<hostname>:<pid>:<random>`: lets a restarted process on the same host recognise a dead holder. */
export function defaultHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/**
 * True when `holder` was a process on this host that no longer runs: same hostname, and its pid
 * is gone, or is our own pid (a container restarted under the same pid). After a kill -9 this
 * lets the next process take over at once instead of waiting out the lease.
 */
export function holderIsDead(holder: string, self: string): boolean {
  const m = /^(.*):([0-9]+):[0-9a-f]+$/.exec(holder);
  if (m === null || holder === self || m[1] !== hostname()) return false;
  const pid = Number(m[2]);
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * The single-sequencer lease: one row in `sequencer_lease` with a holder, an expiry and a fencing
 * token that grows by one at every acquisition. Every batch transaction first renews the lease
 * with `WHERE holder = me AND token = mine`: if anyone acquired it since, that UPDATE matches no
 * row and the batch rolls back. On PostgreSQL the UPDATE also row-locks the lease, so a takeover
 * waits for our COMMIT and then sees our renewed expiry; on SQLite the whole database is locked
 * by BEGIN IMMEDIATE. Either way two sequencers can never both commit under one token.
 *
 * Expiry uses the sequencers' own clocks: skew between machines shortens or lengthens the
 * takeover wait, never breaks the fencing (that rests on the token alone).
 */
export class SequencerLease {
  private token: number | undefined;

  constructor(
    private readonly db: VellumDatabase,
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get held(): boolean {
    return this.token !== undefined;
  }

  get fencingToken(): number | undefined {
    return this.token;
  }

  /**
   * Takes the lease if it is free (expired, released, or never taken) or already ours.
   * Returns false if another holder's lease is still valid. A crash after this commit leaves a
   * lease that blocks other sequencers until it expires.
   */
  async tryAcquire(deadHolder?: string): Promise<boolean> {
    const now = this.now();
    // `deadHolder`: a holder the caller knows is gone (see holderIsDead); taking over from it
    // needs no wait. The fencing token still increments, so even a wrong guess cannot fork.
    const gone = deadHolder ?? this.holder;
    const token = await this.db.transaction(async (tx) => {
      await tx.execute(
        'INSERT INTO sequencer_lease (name, holder, token, expires_at) VALUES (?, ?, 0, 0) ON CONFLICT (name) DO NOTHING',
        [LEASE_NAME, ''],
      );
      const changed = await tx.execute(
        'UPDATE sequencer_lease SET holder = ?, token = token + 1, expires_at = ? ' +
          'WHERE name = ? AND (expires_at <= ? OR holder = ? OR holder = ?)',
        [this.holder, now + this.ttlMs, LEASE_NAME, now, this.holder, gone],
      );
      if (changed !== 1) return undefined;
      const rows = await tx.query<{ token: unknown }>('SELECT token FROM sequencer_lease WHERE name = ?', [
        LEASE_NAME,
      ]);
      return num(rows[0]!.token);
    });
    this.token = token;
    return token !== undefined;
  }

  /** Who holds the lease now and until when (for messages). */
  async describe(): Promise<{ holder: string; token: number; expiresAt: number } | undefined> {
    const rows = await this.db.read<{ holder: string; token: unknown; expires_at: unknown }>(
      'SELECT holder, token, expires_at FROM sequencer_lease WHERE name = ?',
      [LEASE_NAME],
    );
    if (rows.length === 0) return undefined;
    return { holder: rows[0]!.holder, token: num(rows[0]!.token), expiresAt: num(rows[0]!.expires_at) };
  }

  /**
   * Inside a transaction: extends the lease and proves it is still ours. Must be the
   * transaction's first statement (it takes the row lock before anything else is read).
   * Throws UNAVAILABLE, and forgets the token, if the lease moved.
   */
  async fence(tx: SqlTx): Promise<void> {
    const token = this.token;
    if (token === undefined) throw new VellumError('UNAVAILABLE', 'this sequencer does not hold the lease');
    const changed = await tx.execute(
      'UPDATE sequencer_lease SET expires_at = ? WHERE name = ? AND holder = ? AND token = ?',
      [this.now() + this.ttlMs, LEASE_NAME, this.holder, token],
    );
    if (changed !== 1) {
      this.token = undefined;
      throw new VellumError(
        'UNAVAILABLE',
        'sequencer lease lost: another sequencer took over (fencing token moved)',
      );
    }
  }

  /** Renews outside a batch (idle heartbeat). */
  async renew(): Promise<void> {
    await this.db.transaction((tx) => this.fence(tx));
  }

  /** Marks the lease free for the next sequencer, keeping the token (the next one increments it). */
  async release(): Promise<void> {
    const token = this.token;
    if (token === undefined) return;
    this.token = undefined;
    await this.db.transaction((tx) =>
      tx.execute('UPDATE sequencer_lease SET expires_at = 0 WHERE name = ? AND holder = ? AND token = ?', [
        LEASE_NAME,
        this.holder,
        token,
      ]),
    );
  }

  /** Forget the token without touching the database (after a failed fenced transaction whose outcome is unknown). */
  forget(): void {
    this.token = undefined;
  }
}
