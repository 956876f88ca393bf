/**
 * The `vellum monitor` state file: the last checkpoint whose every entry was scanned, and, during
 * a long scan, the position reached toward a newer one. Written atomically (temp file, fsync,
 * rename), so a crash leaves the previous state or the new one, never a torn file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { VellumError } from '../../core/errors';
import type { AlertEvidence } from '../../modules/monitor/monitor-events';

export const TAILER_STATE_VERSION = 1;

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
  /** A scan under way toward a newer checkpoint (absent when none). */
  readonly progress?: TailerProgress;
}

/** A match found during a scan, emitted once the scan reaches its checkpoint. */
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
  /**
   * Leaves [0, next) are in compactRange. Each save is proven in `checkpoint` first, and is
   * proven again when a later pass resumes from it (a file is not trusted).
   */
  readonly next: number;
  readonly compactRange: readonly string[];
  /** Matches among the scanned leaves, reported once the scan reaches its checkpoint. */
  readonly alerts: readonly PendingAlert[];
  /** Inclusion proofs the log served with those matches (already checked). */
  readonly evidence: readonly AlertEvidence[];
}

function stateError(message: string): never {
  throw new VellumError('INVALID_ARGUMENT', message);
}

export function loadTailerState(path: string): TailerState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    stateError(`cannot read state file ${path}: ${(e as Error).message}`);
  }
  let s: TailerState;
  try {
    s = JSON.parse(text) as TailerState;
  } catch {
    stateError(`state file ${path} is not JSON; refusing to re-baseline (move it away to rescan from 0)`);
  }
  if (
    s?.version !== TAILER_STATE_VERSION ||
    typeof s.treeId !== 'string' ||
    !Number.isSafeInteger(s.size) ||
    typeof s.rootHash !== 'string' ||
    !Array.isArray(s.compactRange)
  )
    stateError(`state file ${path} is not a Vellum monitor state (version ${TAILER_STATE_VERSION})`);
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
