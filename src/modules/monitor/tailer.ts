/**
 * The independent monitor (docs/monitoring.md, "The tailer CLI"): tails any Rekor v1 log over
 * its public API and trusts nothing but the log's public key.
 *
 * One pass:
 *  1. GET /api/v1/log; the checkpoint must verify under the key (and name, if given) and match
 *     the LogInfo fields.
 *  2. It must be consistent with the checkpoint stored last time (same size ⇒ same root; larger ⇒
 *     GET /api/v1/log/proof verifies; smaller ⇒ the log shrank).
 *  3. The new entries are fetched in parallel (POST /api/v1/log/entries/retrieve, 10 indexes per
 *     request, `concurrency` requests in flight) and processed in order: each body must hash to
 *     the leaf hash in its UUID, and is appended to a persisted compact range.
 *  4. The root rebuilt from ALL leaves must equal the checkpoint root.
 *  5. Only then are the rule matches emitted (an unauthenticated entry never alerts), and the state
 *     is written atomically (temp file + rename).
 * Any contradiction is `log.inconsistent`: the pass fails, the state keeps the last good
 * checkpoint, so every later pass fails too until a human looks.
 *
 * A long scan also saves its progress (see scanTo): the checkpoint it works toward, the compact
 * range and matches so far, beside the verified checkpoint, which stays as it was. A pass that
 * finds progress first finishes that scan, toward that same checkpoint, and only its root makes
 * any of it trusted: an entry forged before or after the interruption fails the root check.
 *
 * Without a state file the first pass scans from index 0 (never a silent re-baseline);
 * `startAtEnd` instead takes the current checkpoint as the baseline, getting the compact range
 * from a verified inclusion proof of the last leaf.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { dirname } from 'node:path';
import { verifyRekorCheckpoint, type Checkpoint } from '../../core/checkpoint';
import { decodeBase64Strict } from '../../core/encoding';
import type { LogPublicKey } from '../../core/keys';
import { EMPTY_ROOT, leafHash } from '../../core/merkle/hash';
import { verifyConsistency, verifyInclusion } from '../../core/merkle/verify';
import { buildIdentityEvent, evaluate, webhookHeaders, type IdentityRule } from '../../core/monitor';
import { CompactRange } from '../../core/follower/compact-range';
import { logEvent, safeExtractBody, verifyAlertEvidence, type AlertEvidence } from './monitor-events';
import { postWebhook } from './webhook-client';

export const TAILER_STATE_VERSION = 1;
const ENTRIES_PER_REQUEST = 10;

export interface TailerState {
  readonly version: 1;
  readonly log: string;
  readonly treeId: string;
  readonly origin: string;
  /** Virtual index of this tree's leaf 0 (sum of inactive shard sizes). */
  readonly indexOffset: number;
  readonly size: number;
  readonly rootHash: string;
  readonly checkpoint: string;
  readonly compactRange: readonly string[];
  readonly updatedAt: string;
  /**
   * A scan under way toward a newer checkpoint (absent when none). Written only with a
   * checkpoint that verifies under the key and is consistent with the one above; nothing in it
   * is trusted until the rebuilt root matches that checkpoint. Older versions ignore it (and
   * rescan from the verified checkpoint).
   */
  readonly progress?: TailerProgress;
}

/** A match found during a scan, emitted once the scan's root verifies. */
export interface PendingAlert {
  readonly id: string;
  /** The JSON event line (with `id`). */
  readonly event: Record<string, unknown>;
  /** Exact webhook body, base64. */
  readonly body: string;
}

export interface TailerProgress {
  /** Signed note of the checkpoint the scan works toward. */
  readonly checkpoint: string;
  readonly size: number;
  readonly rootHash: string;
  /** Leaves [0, next) are in compactRange; those from the verified size on are not authenticated yet. */
  readonly next: number;
  readonly compactRange: readonly string[];
  /** Matches among the unauthenticated leaves. */
  readonly alerts: readonly PendingAlert[];
  /** Inclusion proofs the log served with those matches; checked once the root is. */
  readonly evidence: readonly AlertEvidence[];
}

export interface TailerOptions {
  readonly logUrl: string;
  readonly publicKey: LogPublicKey;
  readonly rules: readonly IdentityRule[];
  readonly statePath: string;
  readonly concurrency: number;
  /** Require the checkpoint signature line to carry this name. */
  readonly originHostname?: string;
  readonly startAtEnd?: boolean;
  readonly webhook?: { readonly url: string; readonly secret: string };
  /** Alerts, one JSON event per line. */
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
  readonly scanned: number;
  readonly alerts: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  readonly reason?: string;
  readonly webhookFailures: number;
  /** Set when the pass continued a scan saved by an earlier one: the index it went on from. */
  readonly resumedFrom?: number;
}

/** The log contradicted itself or its key. */
export class InconsistencyError extends Error {
  override readonly name = 'InconsistencyError';
  constructor(
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Anything else that stops a pass (network, bad responses, state file). */
export class TailerError extends Error {
  override readonly name = 'TailerError';
}

/** The pass was stopped on request (its progress is saved). */
class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
}

/** The verified checkpoint an event can quote (none before the first verified one). */
function previous(state: TailerState): { previousCheckpoint?: string } {
  return state.size > 0 && state.checkpoint !== '' ? { previousCheckpoint: state.checkpoint } : {};
}

interface LogInfo {
  rootHash: string;
  treeSize: number;
  treeID: string;
  signedTreeHead: string;
  inactiveShards?: Array<{ treeSize: number }> | null;
}

interface FetchedEntry {
  readonly index: number;
  readonly uuid: string;
  readonly body: Buffer;
  readonly leaf: Buffer;
  readonly integratedTime: number;
  readonly value: Record<string, any>;
}

class HttpJson {
  private readonly agent: http.Agent;
  private readonly base: URL;

  constructor(base: string, concurrency: number) {
    this.base = new URL(base.replace(/\/+$/, '') + '/');
    const Agent = this.base.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency + 2 });
  }

  close(): void {
    this.agent.destroy();
  }

  private once(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; text: string }> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    const mod = url.protocol === 'https:' ? https : http;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            accept: 'application/json',
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': String(payload.length) }
              : {}),
          },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** JSON request with retries on network errors, 429 and 5xx. */
  async json(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let last = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
      let res: { status: number; text: string };
      try {
        res = await this.once(method, path, body);
      } catch (e) {
        last = (e as Error).message;
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        last = `HTTP ${res.status} ${res.text.slice(0, 200)}`;
        continue;
      }
      if (res.status < 200 || res.status >= 300)
        throw new TailerError(`${method} ${path}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
      try {
        return JSON.parse(res.text);
      } catch {
        throw new TailerError(`${method} ${path}: response is not JSON`);
      }
    }
    throw new TailerError(`${method} ${path}: ${last}`);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

function treeIdOf(cp: Checkpoint): string | undefined {
  return / - (-?[0-9]+)$/.exec(cp.origin)?.[1];
}

export function loadTailerState(path: string): TailerState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TailerError(`cannot read state file ${path}: ${(e as Error).message}`);
  }
  let s: TailerState;
  try {
    s = JSON.parse(text) as TailerState;
  } catch {
    throw new TailerError(
      `state file ${path} is not JSON; refusing to re-baseline (move it away to rescan from 0)`,
    );
  }
  if (
    s?.version !== TAILER_STATE_VERSION ||
    typeof s.treeId !== 'string' ||
    !Number.isSafeInteger(s.size) ||
    typeof s.rootHash !== 'string' ||
    !Array.isArray(s.compactRange)
  ) {
    throw new TailerError(
      `state file ${path} is not a Vellum monitor state (version ${TAILER_STATE_VERSION})`,
    );
  }
  return s;
}

export function saveTailerState(path: string, state: TailerState): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export class LogTailer {
  private readonly now: () => number;

  constructor(private readonly o: TailerOptions) {
    this.now = o.now ?? Date.now;
  }

  async pass(): Promise<PassResult> {
    const started = performance.now();
    const client = new HttpJson(this.o.logUrl, this.o.concurrency);
    let previousSize = 0;
    let size = 0;
    const tally = { scanned: 0, webhookFailures: 0, alerts: 0 };
    let resumedFrom: number | undefined;
    const result = (status: PassResult['status'], alerts: number, reason?: string): PassResult => {
      const seconds = (performance.now() - started) / 1000;
      return {
        status,
        previousSize,
        size,
        scanned: tally.scanned,
        alerts,
        seconds,
        entriesPerSecond: seconds > 0 ? tally.scanned / seconds : 0,
        webhookFailures: tally.webhookFailures,
        ...(resumedFrom !== undefined ? { resumedFrom } : {}),
        ...(reason !== undefined ? { reason } : {}),
      };
    };
    let state: TailerState | undefined;
    let cp: Checkpoint | undefined;
    let note = '';
    try {
      state = loadTailerState(this.o.statePath);
      previousSize = state?.size ?? 0;
      const info = (await client.json('GET', '/api/v1/log')) as LogInfo;
      if (
        typeof info !== 'object' ||
        info === null ||
        typeof info.signedTreeHead !== 'string' ||
        !Number.isSafeInteger(info.treeSize) ||
        typeof info.rootHash !== 'string' ||
        typeof info.treeID !== 'string'
      )
        throw new TailerError('GET /api/v1/log: not a LogInfo');
      note = info.signedTreeHead;
      try {
        cp = verifyRekorCheckpoint(note, this.o.publicKey, this.o.originHostname);
      } catch (e) {
        throw new InconsistencyError(
          `the log's checkpoint does not verify under the given key: ${(e as Error).message}`,
          {
            checkpoint: note,
          },
        );
      }
      size = cp.size;
      if (cp.size !== info.treeSize || cp.rootHash.toString('hex') !== info.rootHash)
        throw new InconsistencyError('LogInfo treeSize/rootHash differ from its signed checkpoint', {
          checkpoint: note,
        });
      const treeId = treeIdOf(cp);
      if (treeId === undefined || BigInt(treeId).toString() !== BigInt(info.treeID).toString())
        throw new TailerError(
          `checkpoint origin ${JSON.stringify(cp.origin)} does not name tree ${info.treeID}`,
        );
      const offset = (info.inactiveShards ?? []).reduce(
        (a, s) => a + (Number.isSafeInteger(s?.treeSize) ? s.treeSize : 0),
        0,
      );

      let range: CompactRange;
      let start: number;
      if (state !== undefined) {
        if (state.treeId !== info.treeID)
          throw new TailerError(
            `the log's tree changed from ${state.treeId} to ${info.treeID} (shard rotation?); not re-baselining silently — check the new shard and move ${this.o.statePath} away to start over`,
          );
        if (state.origin !== cp.origin)
          throw new InconsistencyError(
            `checkpoint origin changed from ${JSON.stringify(state.origin)} to ${JSON.stringify(cp.origin)}`,
            {
              ...previous(state),
              checkpoint: note,
            },
          );
        range = this.verifiedRange(state);
        if (state.progress !== undefined) {
          // An earlier pass stopped while scanning toward a checkpoint: finish that one first
          // (same entries, same root to reach), then go on to the current one as usual.
          const resume = this.usableProgress(state);
          if (resume !== undefined) {
            await this.checkConsistency(client, state, resume.target, state.progress.checkpoint, info.treeID);
            resumedFrom = resume.range.size;
            this.o.err(
              `resuming the scan toward checkpoint ${resume.target.size} at index ${resume.range.size} (progress saved by an earlier pass)`,
            );
            const done = await this.scanTo(client, {
              base: state,
              range: resume.range,
              target: resume.target,
              note: state.progress.checkpoint,
              treeId: info.treeID,
              offset,
              carried: state.progress,
              tally,
              started,
            });
            state = done;
            range = this.verifiedRange(state);
          } else {
            state = { ...state, progress: undefined };
          }
        }
        await this.checkConsistency(client, state, cp, note, info.treeID);
        start = state.size;
      } else if (this.o.startAtEnd === true) {
        this.o.err(
          `no state at ${this.o.statePath}: --start-at-end, baseline = checkpoint of size ${cp.size}, nothing scanned`,
        );
        range = await this.baselineAtEnd(client, cp, offset);
        start = cp.size;
      } else {
        this.o.err(
          `no state at ${this.o.statePath}: first run, full scan from index 0 (use --start-at-end to skip history)`,
        );
        range = CompactRange.empty();
        start = 0;
      }
      // What progress saves carry as the verified part: the state, or before any (first full
      // scan) the empty tree, which every checkpoint of this origin extends.
      const base: TailerState = state ?? {
        version: TAILER_STATE_VERSION,
        log: this.o.logUrl,
        treeId: info.treeID,
        origin: cp.origin,
        indexOffset: offset,
        size: 0,
        rootHash: EMPTY_ROOT.toString('hex'),
        checkpoint: '',
        compactRange: [],
        updatedAt: new Date(this.now()).toISOString(),
      };
      if (start !== range.size) throw new TailerError('internal: scan start and compact range disagree');
      const before = tally.alerts;
      await this.scanTo(client, {
        base: { ...base, indexOffset: offset },
        range,
        target: cp,
        note,
        treeId: info.treeID,
        offset,
        tally,
        started,
      });
      const alerts = tally.alerts - before;
      const r = result('ok', tally.alerts);
      this.o.err(
        `checkpoint ${cp.size} verified (root ${cp.rootHash.toString('hex')} rebuilt from all leaves); ` +
          `${tally.scanned} new entries in ${r.seconds.toFixed(2)} s (${Math.round(r.entriesPerSecond)} entries/s); ${alerts} alert(s)`,
      );
      return r;
    } catch (e) {
      if (e instanceof InconsistencyError) {
        const origin = cp?.origin ?? state?.origin ?? this.o.logUrl;
        const ev = logEvent('log.inconsistent', origin, cp?.size ?? state?.size ?? 0, this.now(), {
          logUrl: this.o.logUrl,
          logOrigin: origin,
          reason: e.message,
          ...(state !== undefined ? previous(state) : {}),
          ...e.data,
        });
        this.o.out(JSON.stringify({ id: ev.id, ...JSON.parse(ev.body.toString('utf8')) }));
        if (!(await this.sendWebhook(ev.id, ev.body))) tally.webhookFailures++;
        this.o.err(`LOG INCONSISTENT: ${e.message}`);
        return result('inconsistent', tally.alerts + 1, e.message);
      }
      if (e instanceof InterruptedError) {
        this.o.err(e.message);
        return result('interrupted', tally.alerts, e.message);
      }
      const msg = e instanceof Error ? e.message : String(e);
      this.o.err(`monitor pass failed: ${msg}`);
      return result('error', tally.alerts, msg);
    } finally {
      client.close();
    }
  }

  /** The state's compact range; TailerError if it does not give the state's root. */
  private verifiedRange(state: TailerState): CompactRange {
    let range: CompactRange;
    try {
      range = CompactRange.fromHex(state.size, state.compactRange);
    } catch (e) {
      throw new TailerError(`state file ${this.o.statePath} is corrupt: ${(e as Error).message}`);
    }
    if (range.root().toString('hex') !== state.rootHash)
      throw new TailerError(
        `state file ${this.o.statePath} is corrupt (compact range does not give its root)`,
      );
    return range;
  }

  /**
   * The saved progress if it can be continued: its checkpoint verifies under the key, belongs to
   * the state's log, is not behind the state, and its compact range is well formed. Otherwise
   * (another key or name given this time, a damaged file) it is dropped with a message: it only
   * ever saves work, never trust, so starting again from the verified state is always safe.
   */
  private usableProgress(state: TailerState): { target: Checkpoint; range: CompactRange } | undefined {
    const p = state.progress!;
    try {
      const target = verifyRekorCheckpoint(p.checkpoint, this.o.publicKey, this.o.originHostname);
      if (target.origin !== state.origin) throw new Error('it names another log');
      if (target.size !== p.size || target.rootHash.toString('hex') !== p.rootHash)
        throw new Error('its size or root differ from its checkpoint');
      if (
        !Number.isSafeInteger(p.next) ||
        p.next < state.size ||
        p.next > target.size ||
        target.size <= state.size
      )
        throw new Error(`index ${p.next} is outside (${state.size}, ${target.size}]`);
      if (!Array.isArray(p.alerts) || !Array.isArray(p.evidence))
        throw new Error('alerts or evidence missing');
      return { target, range: CompactRange.fromHex(p.next, p.compactRange) };
    } catch (e) {
      this.o.err(
        `saved progress in ${this.o.statePath} ignored (${(e as Error).message}); scanning again from the verified checkpoint of size ${state.size}`,
      );
      return undefined;
    }
  }

  /** `cp` must extend the verified state: same size ⇒ same root; larger ⇒ a consistency proof. */
  private async checkConsistency(
    client: HttpJson,
    state: TailerState,
    cp: Checkpoint,
    note: string,
    treeId: string,
  ): Promise<void> {
    const oldRoot = Buffer.from(state.rootHash, 'hex');
    if (cp.size < state.size)
      throw new InconsistencyError(`the log shrank from ${state.size} to ${cp.size} entries`, {
        ...previous(state),
        checkpoint: note,
      });
    if (cp.size === state.size) {
      if (!cp.rootHash.equals(oldRoot))
        throw new InconsistencyError(`two different signed roots for tree size ${cp.size} (split view)`, {
          ...previous(state),
          checkpoint: note,
        });
      return;
    }
    if (state.size === 0) return;
    const p = (await client.json(
      'GET',
      `/api/v1/log/proof?firstSize=${state.size}&lastSize=${cp.size}&treeID=${encodeURIComponent(treeId)}`,
    )) as { hashes?: unknown };
    const hashes = Array.isArray(p?.hashes) ? p.hashes : undefined;
    if (hashes === undefined || hashes.some((h) => typeof h !== 'string' || !HEX64.test(h)))
      throw new TailerError('GET /api/v1/log/proof: not a ConsistencyProof');
    try {
      verifyConsistency(
        state.size,
        cp.size,
        (hashes as string[]).map((h) => Buffer.from(h, 'hex')),
        oldRoot,
        cp.rootHash,
      );
    } catch (e) {
      throw new InconsistencyError(
        `checkpoint of size ${cp.size} is not consistent with the one of size ${state.size} seen before: ${(e as Error).message}`,
        { ...previous(state), checkpoint: note },
      );
    }
  }

  /**
   * Scans [range.size, target.size) in order into `range`, checks the rebuilt root against the
   * target, then emits the matches and saves the target as the verified state (returned).
   *
   * Every `saveEveryEntries` entries or `saveEveryMs` the state file gets `progress`: the target
   * checkpoint, the compact range so far and the matches so far, next to the untouched verified
   * part. Only the verified part is ever trusted; the progress lets a later pass continue toward
   * the same target instead of starting over, and is authenticated only by that pass reaching
   * the target's root. A crash leaves the last progress save (or none) and loses at most the
   * entries since.
   */
  private async scanTo(
    client: HttpJson,
    s: {
      base: TailerState;
      range: CompactRange;
      target: Checkpoint;
      note: string;
      treeId: string;
      offset: number;
      carried?: TailerProgress;
      tally: { scanned: number; webhookFailures: number; alerts: number };
      started: number;
    },
  ): Promise<TailerState> {
    const { range, target: cp, note, offset, tally } = s;
    const pending: PendingAlert[] = (s.carried?.alerts ?? []).map((a) => ({ ...a }));
    const evidenceChecks: AlertEvidence[] = [...(s.carried?.evidence ?? [])];
    const everyEntries = this.o.saveEveryEntries ?? 10_000;
    const everyMs = this.o.saveEveryMs ?? 10_000;
    const progressEvery = this.o.progressIntervalMs ?? 2000;
    const from = range.size;
    const total = cp.size - from;
    let lastProgress = performance.now();
    let lastSave = performance.now();
    let savedAt = from;
    let scannedHere = 0;
    const saveProgress = (): void => {
      if (range.size === savedAt) return;
      const progress: TailerProgress = {
        checkpoint: note,
        size: cp.size,
        rootHash: cp.rootHash.toString('hex'),
        next: range.size,
        compactRange: range.toHex(),
        alerts: pending,
        evidence: evidenceChecks,
      };
      saveTailerState(this.o.statePath, {
        ...s.base,
        updatedAt: new Date(this.now()).toISOString(),
        progress,
      });
      savedAt = range.size;
      lastSave = performance.now();
      this.o.onProgressSaved?.(progress);
    };
    await this.fetchInOrder(client, from, cp.size, offset, (e) => {
      range.append(e.leaf);
      tally.scanned++;
      scannedHere++;
      if (this.o.rules.length > 0) this.match(e, cp, note, offset, pending, evidenceChecks);
      const now = performance.now();
      if (range.size < cp.size && (range.size - savedAt >= everyEntries || now - lastSave >= everyMs))
        saveProgress();
      if (this.o.signal?.aborted === true) {
        saveProgress();
        throw new InterruptedError(
          `interrupted at index ${range.size} of ${cp.size}; progress saved, the next pass continues from there`,
        );
      }
      if (now - lastProgress >= progressEvery) {
        lastProgress = now;
        const secs = (now - s.started) / 1000;
        this.o.err(
          `scanned ${scannedHere}/${total} entries toward checkpoint ${cp.size} (${Math.round(tally.scanned / secs)} entries/s; progress saved at index ${savedAt})`,
        );
      }
    });
    if (!range.root().equals(cp.rootHash))
      throw new InconsistencyError(
        `the root rebuilt from all ${cp.size} entries (${range.root().toString('hex')}) is not the signed root ${cp.rootHash.toString('hex')}`,
        { checkpoint: note },
      );
    // The entries that matched also carry the log's own inclusion proof: it must hold too.
    const verifiedNotes = new Map<string, Checkpoint>();
    for (const ev of evidenceChecks) {
      try {
        verifyAlertEvidence(ev, this.o.publicKey, verifiedNotes);
      } catch (e) {
        throw new InconsistencyError(
          `entry ${ev.logIndex}: the inclusion proof the log served does not verify: ${(e as Error).message}`,
          {
            checkpoint: note,
          },
        );
      }
    }

    // Verified: emit the matches, then persist (a crash in between re-emits them next time,
    // under the same event ids).
    for (const p of pending) {
      this.o.out(JSON.stringify(p.event));
      if (!(await this.sendWebhook(p.id, Buffer.from(p.body, 'base64')))) tally.webhookFailures++;
    }
    tally.alerts += pending.length;
    const verified: TailerState = {
      version: TAILER_STATE_VERSION,
      log: this.o.logUrl,
      treeId: s.treeId,
      origin: cp.origin,
      indexOffset: offset,
      size: cp.size,
      rootHash: cp.rootHash.toString('hex'),
      checkpoint: note,
      compactRange: range.toHex(),
      updatedAt: new Date(this.now()).toISOString(),
    };
    saveTailerState(this.o.statePath, verified);
    return verified;
  }

  /** Rule matches of one fetched entry, queued until the root is verified. */
  private match(
    e: FetchedEntry,
    cp: Checkpoint,
    note: string,
    offset: number,
    pending: PendingAlert[],
    evidenceChecks: AlertEvidence[],
  ): void {
    const identity = safeExtractBody(e.body);
    const outcomes = evaluate(this.o.rules, identity, { nowMs: this.now() });
    if (outcomes.length === 0) return;
    const ip = e.value.verification?.inclusionProof;
    const evidence: AlertEvidence | Record<string, unknown> =
      ip === undefined || ip === null
        ? {
            // No proof served (optional in Rekor v1): the root rebuilt from every entry is the proof.
            logOrigin: cp.origin,
            logId: this.o.publicKey.logIdHex,
            logIndex: e.index,
            uuid: e.uuid,
            leafHash: e.leaf.toString('hex'),
            body: e.body.toString('base64'),
            integratedTime: e.integratedTime,
            checkpoint: note,
          }
        : {
            logOrigin: cp.origin,
            logId: this.o.publicKey.logIdHex,
            logIndex: e.index,
            uuid: e.uuid,
            leafHash: e.leaf.toString('hex'),
            body: e.body.toString('base64'),
            integratedTime: e.integratedTime,
            signedEntryTimestamp: String(e.value.verification?.signedEntryTimestamp ?? ''),
            checkpoint: String(ip?.checkpoint ?? ''),
            treeSize: Number(ip?.treeSize),
            rootHash: String(ip?.rootHash ?? ''),
            inclusionProof: Array.isArray(ip?.hashes) ? (ip.hashes as string[]) : [],
          };
    if (ip !== undefined && ip !== null) evidenceChecks.push(evidence as AlertEvidence);
    for (const o of outcomes) {
      const built = buildIdentityEvent(
        o,
        identity,
        {
          logOrigin: cp.origin,
          index: offset + e.index,
          leafHash: e.leaf.toString('hex'),
          uuid: e.uuid,
          integratedTime: e.integratedTime,
          evidence,
        },
        this.now(),
      );
      pending.push({
        id: built.id,
        event: { id: built.id, ...built.event },
        body: built.body.toString('base64'),
      });
    }
  }

  private async sendWebhook(id: string, body: Buffer): Promise<boolean> {
    const w = this.o.webhook;
    if (w === undefined) return true;
    const delays = this.o.webhookRetryMs ?? [0, 1000, 5000];
    let last = '';
    for (const d of delays) {
      if (d > 0) await new Promise((r) => setTimeout(r, d));
      const ts = Math.floor(this.now() / 1000);
      const res = await postWebhook(w.url, body, webhookHeaders([w.secret], id, ts, body), {
        timeoutMs: 20_000,
        allowPrivate: true,
      });
      if (res.status !== undefined && res.status >= 200 && res.status < 300) return true;
      last = res.refused ?? res.error ?? `HTTP ${res.status}`;
      if (res.refused !== undefined || res.status === 410) break;
    }
    this.o.err(`webhook delivery of ${id} failed: ${last}`);
    return false;
  }

  /** Compact range of the whole tree from the last leaf's verified inclusion proof. */
  private async baselineAtEnd(client: HttpJson, cp: Checkpoint, offset: number): Promise<CompactRange> {
    if (cp.size === 0) return CompactRange.empty();
    const entries = await this.fetchChunk(client, [cp.size - 1], offset);
    const e = entries.get(cp.size - 1);
    if (e === undefined) throw new TailerError(`the log did not serve its last entry ${cp.size - 1}`);
    const ip = e.value.verification?.inclusionProof;
    if (ip?.treeSize !== cp.size) throw new TailerError('the log grew while taking the baseline; run again');
    const proof = (Array.isArray(ip.hashes) ? (ip.hashes as unknown[]) : []).map((h) => {
      if (typeof h !== 'string' || !HEX64.test(h))
        throw new TailerError('inclusion proof hashes are not hex');
      return Buffer.from(h, 'hex');
    });
    try {
      verifyInclusion(e.leaf, cp.size - 1, cp.size, proof, cp.rootHash);
    } catch (err) {
      throw new InconsistencyError(
        `inclusion proof of the last entry does not verify: ${(err as Error).message}`,
      );
    }
    return CompactRange.fromLastLeafProof(cp.size, e.leaf, proof);
  }

  private async fetchChunk(
    client: HttpJson,
    indexes: readonly number[],
    offset: number,
  ): Promise<Map<number, FetchedEntry>> {
    const res = await client.json('POST', '/api/v1/log/entries/retrieve', {
      logIndexes: indexes.map((i) => offset + i),
    });
    if (!Array.isArray(res)) throw new TailerError('POST /api/v1/log/entries/retrieve: not a list');
    const wanted = new Set(indexes);
    const out = new Map<number, FetchedEntry>();
    for (const item of res) {
      if (typeof item !== 'object' || item === null)
        throw new TailerError('retrieve: an item is not a LogEntry');
      const keys = Object.keys(item);
      if (keys.length !== 1) throw new TailerError('retrieve: a LogEntry must have exactly one key');
      const uuid = keys[0]!.toLowerCase();
      const v = (item as Record<string, any>)[keys[0]!];
      if (!/^([0-9a-f]{64}|[0-9a-f]{80})$/.test(uuid))
        throw new TailerError(`retrieve: ${keys[0]} is not an entry UUID`);
      if (typeof v !== 'object' || v === null || !Number.isSafeInteger(v.logIndex))
        throw new TailerError(`retrieve: entry ${uuid} has no logIndex`);
      const index = (v.logIndex as number) - offset;
      if (!wanted.has(index)) continue;
      if (out.has(index))
        throw new InconsistencyError(`the log served two different entries for index ${index}`);
      let body: Buffer;
      try {
        body = decodeBase64Strict(String(v.body), 'body');
      } catch (e) {
        throw new InconsistencyError(`entry ${index}: body is not base64: ${(e as Error).message}`);
      }
      const leaf = leafHash(body);
      if (uuid.slice(-64) !== leaf.toString('hex'))
        throw new InconsistencyError(
          `leaf hash mismatch at index ${index}: the body hashes to ${leaf.toString('hex')}, the log calls it ${uuid}`,
          { logIndex: index, uuid },
        );
      out.set(index, {
        index,
        uuid,
        body,
        leaf,
        integratedTime: Number(v.integratedTime),
        value: v as Record<string, any>,
      });
    }
    return out;
  }

  /** Fetches [from, to) with `concurrency` requests in flight; `onEntry` sees entries in index order. */
  private async fetchInOrder(
    client: HttpJson,
    from: number,
    to: number,
    offset: number,
    onEntry: (e: FetchedEntry) => void,
  ): Promise<void> {
    const chunks: number[][] = [];
    for (let i = from; i < to; i += ENTRIES_PER_REQUEST) {
      chunks.push(Array.from({ length: Math.min(ENTRIES_PER_REQUEST, to - i) }, (_, k) => i + k));
    }
    const inFlight = new Map<number, Promise<Map<number, FetchedEntry>>>();
    let next = 0;
    const launch = (c: number): void => {
      const p = this.fetchChunkComplete(client, chunks[c]!, offset);
      p.catch(() => undefined); // awaited in order below; avoid unhandled rejections meanwhile
      inFlight.set(c, p);
    };
    for (let c = 0; c < chunks.length; c++) {
      while (next < chunks.length && next < c + this.o.concurrency) launch(next++);
      const got = await inFlight.get(c)!;
      inFlight.delete(c);
      for (const i of chunks[c]!) onEntry(got.get(i)!);
    }
  }

  /** A chunk with every index present (one retry for entries a lagging replica did not have yet). */
  private async fetchChunkComplete(
    client: HttpJson,
    indexes: readonly number[],
    offset: number,
  ): Promise<Map<number, FetchedEntry>> {
    const got = await this.fetchChunk(client, indexes, offset);
    let missing = indexes.filter((i) => !got.has(i));
    for (let attempt = 0; missing.length > 0 && attempt < 2; attempt++) {
      await new Promise((r) => setTimeout(r, 250));
      const more = await this.fetchChunk(client, missing, offset);
      for (const [k, v] of more) got.set(k, v);
      missing = indexes.filter((i) => !got.has(i));
    }
    if (missing.length > 0)
      throw new TailerError(`the log did not serve entries ${missing.join(', ')} below its signed size`);
    return got;
  }
}
