/**
 * The independent monitor (docs/monitoring.md, "The tailer CLI"): follows any Rekor v1 log over
 * its public API, or any C2SP tlog-tiles log over its tiles, and trusts nothing but the log's
 * public key. A pass is one LogFollower step toward the log's current checkpoint (signature,
 * consistency with the state file's checkpoint, every leaf hashed and proven in that checkpoint,
 * batch by batch); this file adds what is particular to the CLI: rule matches held back until
 * the pass reaches its checkpoint, the state file, events on stdout and the optional webhook.
 *
 * Without a state file the first pass scans from index 0 (never a silent re-baseline);
 * `startAtEnd` instead takes the current checkpoint as the baseline, with the compact range read
 * from a verified proof (v1) or the tiles, checked against the signed root.
 */
import { parseCheckpoint, verifyRekorCheckpoint, type Checkpoint } from '../../core/checkpoint';
import { isVellumError, VellumError } from '../../core/errors';
import { CompactRange } from '../../core/follower/compact-range';
import { LogFollower, type FollowerPosition, type LeafSource } from '../../core/follower/log-follower';
import { TileLeafSource } from '../../core/follower/tile-leaf-source';
import type { LogPublicKey } from '../../core/keys';
import type { IdentityRule } from '../../core/monitor';
import { parseSignedNote } from '../../core/note';
import { logEvent } from '../../modules/monitor/monitor-events';
import { HttpClient } from '../../net/http-client';
import { TailerMatcher } from './tailer-matcher';
import { loadTailerState, saveTailerState, type TailerProgress, type TailerState } from './state-file';
import { emptyState, finishedState, progressPosition, stateRange } from './state-position';
import { V1LeafSource, type V1Extra } from './v1-leaf-source';
import { WebhookSender, type WebhookTarget } from './webhook-sender';

export { loadTailerState, saveTailerState, TAILER_STATE_VERSION } from './state-file';
export type { PendingAlert, TailerProgress, TailerState } from './state-file';

export interface TailerOptions {
  readonly logUrl: string;
  readonly publicKey: LogPublicKey;
  readonly rules: readonly IdentityRule[];
  readonly statePath: string;
  /** v1: retrieve requests in flight; tiles: entry bundles in flight. */
  readonly concurrency: number;
  /** Follow the log through its C2SP tiles instead of the v1 API. */
  readonly tiles?: boolean;
  /** Require the checkpoint signature line to carry this name. */
  readonly originHostname?: string;
  readonly startAtEnd?: boolean;
  readonly webhook?: WebhookTarget;
  /** Events (JSON lines). */
  readonly out: (line: string) => void;
  /** Progress and diagnostics. */
  readonly err: (line: string) => void;
  readonly now?: () => number;
  readonly progressIntervalMs?: number;
  /** Delays between webhook attempts (default 0, 1 s, 5 s). */
  readonly webhookRetryMs?: readonly number[];
  /** Save scan progress every this many entries (default 10,000)... */
  readonly saveEveryEntries?: number;
  /** ...or after this long, whichever comes first (default 10 s). */
  readonly saveEveryMs?: number;
  /** Stops the scan: progress is saved and the pass returns `interrupted`. */
  readonly signal?: AbortSignal;
  /** Called after each progress save (tests). */
  readonly onProgressSaved?: (progress: TailerProgress) => void;
}

export interface PassResult {
  /** `interrupted`: stopped through `signal`, progress saved. */
  readonly status: 'ok' | 'inconsistent' | 'error' | 'interrupted';
  readonly previousSize: number;
  readonly size: number;
  /** Entries read from the log in this pass. */
  readonly scanned: number;
  readonly alerts: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  readonly reason?: string;
  readonly webhookFailures: number;
  /** Set when the pass continued a scan saved by an earlier one: the index it went on from. */
  readonly resumedFrom?: number;
  /** Tile mode: tiles and entry bundles fetched. */
  readonly tileReads?: number;
}

/** Rekor origins are "<hostname> - <treeID>"; other C2SP origins name no tree. */
function treeIdOf(cp: Checkpoint): string | undefined {
  return / - (-?[0-9]+)$/.exec(cp.origin)?.[1];
}

/** The checkpoint inside a note this program verified before (its own state file). */
function storedCheckpoint(note: string): Checkpoint {
  return parseCheckpoint(parseSignedNote(note).text);
}

export class LogTailer {
  private readonly now: () => number;

  constructor(private readonly o: TailerOptions) {
    this.now = o.now ?? Date.now;
  }

  async pass(): Promise<PassResult> {
    const started = performance.now();
    const tally = { scanned: 0, webhookFailures: 0, alerts: 0 };
    let previousSize = 0;
    let size = 0;
    let resumedFrom: number | undefined;
    const http = new HttpClient(this.o.logUrl);
    const v1 = this.o.tiles === true ? undefined : new V1LeafSource(http, this.o.concurrency);
    const tiles =
      this.o.tiles === true
        ? new TileLeafSource({
            fetchTile: (p) => http.bytes(p),
            fetchCheckpoint: () => http.text('checkpoint'),
            concurrency: this.o.concurrency,
          })
        : undefined;
    const result = (status: PassResult['status'], reason?: string): PassResult => {
      const seconds = (performance.now() - started) / 1000;
      return {
        status,
        previousSize,
        size,
        scanned: tally.scanned,
        alerts: tally.alerts,
        seconds,
        entriesPerSecond: seconds > 0 ? tally.scanned / seconds : 0,
        webhookFailures: tally.webhookFailures,
        ...(resumedFrom !== undefined ? { resumedFrom } : {}),
        ...(reason !== undefined ? { reason } : {}),
        ...(tiles !== undefined ? { tileReads: tiles.tileReads } : {}),
      };
    };
    const webhook = new WebhookSender(this.o.webhook, {
      now: this.now,
      err: this.o.err,
      ...(this.o.webhookRetryMs !== undefined ? { retryMs: this.o.webhookRetryMs } : {}),
    });
    let state: TailerState | undefined;
    let current: Checkpoint | undefined;
    try {
      state = loadTailerState(this.o.statePath);
      previousSize = state?.size ?? 0;
      const inner: LeafSource<V1Extra> = (v1 ?? tiles)! as LeafSource<V1Extra>;
      // Counts what is read, delivered or not: a pass that fails still says how far it read.
      const source: LeafSource<V1Extra> = {
        latestCheckpoint: () => inner.latestCheckpoint(),
        consistencyProof: (a, b) => inner.consistencyProof(a, b),
        leaves: async function* (from, to, treeSize) {
          for await (const chunk of inner.leaves(from, to, treeSize)) {
            tally.scanned += chunk.length;
            yield chunk;
          }
        },
      };
      const matcher = new TailerMatcher(
        this.o.rules,
        this.o.publicKey,
        this.now,
        v1 !== undefined,
        () => v1?.offset ?? 0,
      );
      const followerBase = () => ({
        source,
        batchSize: this.o.saveEveryEntries ?? 10_000,
        verifyNote: (note: string) => verifyRekorCheckpoint(note, this.o.publicKey, this.o.originHostname),
      });
      let position: FollowerPosition;
      const base0 = state;
      if (state !== undefined) {
        const range = stateRange(state, this.o.statePath);
        position = {
          verified:
            state.checkpoint === ''
              ? undefined
              : { checkpoint: storedCheckpoint(state.checkpoint), note: state.checkpoint },
          range,
        };
        const saved =
          state.progress !== undefined
            ? progressPosition(state, this.o.publicKey, this.o.originHostname)
            : undefined;
        if (typeof saved === 'string')
          this.o.err(
            `saved progress in ${this.o.statePath} ignored (${saved}); scanning again from the verified checkpoint of size ${state.size}`,
          );
        const resume = typeof saved === 'string' ? undefined : saved;
        if (resume !== undefined) {
          // The checkpoint the scan works toward must extend the one verified before it.
          if (position.verified !== undefined)
            await new LogFollower({
              ...followerBase(),
              consumer: { accept: () => undefined },
              store: { save: () => undefined },
            }).verifyNext(position, { note: resume.verified!.note });
          position = resume;
          resumedFrom = resume.range.size;
          matcher.carry(state.progress!);
        }
      } else {
        position = { verified: undefined, range: CompactRange.empty() };
      }

      const follower = new LogFollower<V1Extra>({
        ...followerBase(),
        consumer: { accept: (b) => matcher.accept(b) },
        store: {
          save: async (p) => {
            if (p.range.size < p.verified!.checkpoint.size) {
              const progress: TailerProgress = {
                checkpoint: p.verified!.note,
                size: p.verified!.checkpoint.size,
                rootHash: p.verified!.checkpoint.rootHash.toString('hex'),
                next: p.range.size,
                compactRange: p.range.toHex(),
                ...matcher.pending(),
              };
              saveTailerState(this.o.statePath, { ...base, updatedAt: this.iso(), progress });
              lastSave = performance.now();
              this.o.onProgressSaved?.(progress);
              return;
            }
            // The pass reached its checkpoint: report, then persist (a crash in between reports
            // the same events again next time, under the same ids).
            const pending = matcher.pending().alerts;
            for (const a of pending) {
              this.o.out(JSON.stringify(a.event));
              if (!(await webhook.send(a.id, Buffer.from(a.body, 'base64')))) tally.webhookFailures++;
            }
            tally.alerts += pending.length;
            matcher.clear();
            saveTailerState(this.o.statePath, finishedState(ctx(), p));
          },
        },
      });

      let treeId = '';
      const offset = (): number => v1?.offset ?? 0;
      const ctx = () => ({ logUrl: this.o.logUrl, treeId, indexOffset: offset(), updatedAt: this.iso() });
      // What progress saves carry as the finished part: the state, or before any (first full
      // scan) the empty tree, which every checkpoint of this origin extends.
      let base: TailerState;
      let lastSave = performance.now();
      let lastReport = performance.now();
      const afterSignature = (cp: Checkpoint, note: string): void => {
        current = cp;
        size = cp.size;
        const id = v1 !== undefined ? v1.info!.treeID : (treeIdOf(cp) ?? '');
        const named = treeIdOf(cp);
        if (v1 !== undefined && (named === undefined || BigInt(named).toString() !== BigInt(id).toString()))
          throw new VellumError(
            'INVALID_ARGUMENT',
            `checkpoint origin ${JSON.stringify(cp.origin)} does not name tree ${id}`,
          );
        if (base0 !== undefined && base0.treeId !== id)
          throw new VellumError(
            'INVALID_ARGUMENT',
            `the log's tree changed from ${base0.treeId} to ${id} (shard rotation?); not re-baselining silently — check the new shard and move ${this.o.statePath} away to start over`,
          );
        if (base0 !== undefined && base0.origin !== cp.origin)
          throw new VellumError(
            'INCONSISTENT_LOG',
            `checkpoint origin changed from ${JSON.stringify(base0.origin)} to ${JSON.stringify(cp.origin)}`,
            { checkpoint: note },
          );
        treeId = id;
        base = {
          ...emptyState({ ...ctx(), treeId: id }, cp),
          ...(base0 ?? {}),
          indexOffset: offset(),
          progress: undefined,
        };
      };

      if (state === undefined && this.o.startAtEnd === true) {
        const got = await source.latestCheckpoint();
        const verified = await follower.verifyNext(position, got, afterSignature);
        this.o.err(
          `no state at ${this.o.statePath}: --start-at-end, baseline = checkpoint of size ${verified.checkpoint.size}, nothing scanned`,
        );
        const range = await inner.compactRangeAt!(verified.checkpoint);
        saveTailerState(this.o.statePath, finishedState(ctx(), { verified, range }));
        return result('ok');
      }
      if (state === undefined)
        this.o.err(
          `no state at ${this.o.statePath}: first run, full scan from index 0 (use --start-at-end to skip history)`,
        );
      const everyMs = this.o.saveEveryMs ?? 10_000;
      const reportEvery = this.o.progressIntervalMs ?? 2000;
      const step = await follower.step(position, {
        afterSignature,
        onCheckpoint: (v) => {
          if (resumedFrom !== undefined)
            this.o.err(
              `resuming the scan toward checkpoint ${v.checkpoint.size} at index ${resumedFrom} (progress saved by an earlier pass)`,
            );
        },
        cutBatch: () => {
          const now = performance.now();
          if (now - lastReport >= reportEvery) {
            lastReport = now;
            const secs = (now - started) / 1000;
            this.o.err(
              `scanned ${tally.scanned} entries toward checkpoint ${size} (${Math.round(tally.scanned / secs)} entries/s)`,
            );
          }
          return now - lastSave >= everyMs;
        },
        shouldStop: () => this.o.signal?.aborted === true,
      });
      if (step.status === 'stopped') {
        const msg = `interrupted at index ${step.position.range.size} of ${size}; progress saved, the next pass continues from there`;
        this.o.err(msg);
        return result('interrupted', msg);
      }
      const r = result('ok');
      this.o.err(
        `checkpoint ${size} verified (root ${current!.rootHash.toString('hex')} rebuilt from all leaves); ` +
          `${tally.scanned} new entries in ${r.seconds.toFixed(2)} s (${Math.round(r.entriesPerSecond)} entries/s); ${tally.alerts} alert(s)`,
      );
      return r;
    } catch (e) {
      if (isVellumError(e, 'INCONSISTENT_LOG')) {
        const origin = current?.origin ?? state?.origin ?? this.o.logUrl;
        const previous =
          state !== undefined && state.size > 0 && state.checkpoint !== ''
            ? { previousCheckpoint: state.checkpoint }
            : {};
        const ev = logEvent('log.inconsistent', origin, current?.size ?? state?.size ?? 0, this.now(), {
          logUrl: this.o.logUrl,
          logOrigin: origin,
          reason: e.message,
          ...previous,
          ...(e.details ?? {}),
        });
        this.o.out(JSON.stringify({ id: ev.id, ...JSON.parse(ev.body.toString('utf8')) }));
        if (!(await webhook.send(ev.id, ev.body))) tally.webhookFailures++;
        this.o.err(`LOG INCONSISTENT: ${e.message}`);
        tally.alerts++;
        return result('inconsistent', e.message);
      }
      const msg = e instanceof Error ? e.message : String(e);
      this.o.err(`monitor pass failed: ${msg}`);
      return result('error', msg);
    }
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}
