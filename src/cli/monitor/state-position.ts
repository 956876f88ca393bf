/**
 * Between the monitor's state file and the follower's positions: what a state (and its saved
 * progress) means as a FollowerPosition, and the state a position is saved as.
 */
import { verifyRekorCheckpoint, type Checkpoint } from '../../core/checkpoint';
import { VellumError } from '../../core/errors';
import { CompactRange } from '../../core/follower/compact-range';
import type { FollowerPosition } from '../../core/follower/log-follower';
import type { LogPublicKey } from '../../core/keys';
import { EMPTY_ROOT } from '../../core/merkle/hash';
import { TAILER_STATE_VERSION, type TailerState } from './state-file';

export interface StateContext {
  readonly logUrl: string;
  readonly treeId: string;
  readonly indexOffset: number;
  readonly updatedAt: string;
}

/** The state of a log nothing of which was scanned yet (what a first scan's saves build on). */
export function emptyState(ctx: StateContext, cp: Checkpoint): TailerState {
  return {
    version: TAILER_STATE_VERSION,
    log: ctx.logUrl,
    treeId: ctx.treeId,
    origin: cp.origin,
    indexOffset: ctx.indexOffset,
    size: 0,
    rootHash: EMPTY_ROOT.toString('hex'),
    checkpoint: '',
    compactRange: [],
    updatedAt: ctx.updatedAt,
  };
}

/** The state of a position that reached its checkpoint. */
export function finishedState(ctx: StateContext, p: FollowerPosition): TailerState {
  const cp = p.verified!.checkpoint;
  return {
    ...emptyState(ctx, cp),
    size: cp.size,
    rootHash: cp.rootHash.toString('hex'),
    checkpoint: p.verified!.note,
    compactRange: p.range.toHex(),
  };
}

/** The state's compact range; an error if it does not give the state's root. */
export function stateRange(state: TailerState, path: string): CompactRange {
  let range: CompactRange;
  try {
    range = CompactRange.fromHex(state.size, state.compactRange);
  } catch (e) {
    throw new VellumError('INVALID_ARGUMENT', `state file ${path} is corrupt: ${(e as Error).message}`);
  }
  if (range.root().toString('hex') !== state.rootHash)
    throw new VellumError(
      'INVALID_ARGUMENT',
      `state file ${path} is corrupt (compact range does not give its root)`,
    );
  return range;
}

/**
 * The saved progress as a position, if it can be continued: its checkpoint verifies under the
 * key, belongs to the state's log and is ahead of it, and its compact range is well formed. The
 * follower proves that range again before going on. Otherwise (another key or name given this
 * time, a damaged file) the reason is returned: progress only ever saves work, never trust.
 */
export function progressPosition(
  state: TailerState,
  key: LogPublicKey,
  signerName: string | undefined,
): FollowerPosition | string {
  const p = state.progress!;
  try {
    const target = verifyRekorCheckpoint(p.checkpoint, key, signerName);
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
    if (!Array.isArray(p.alerts) || !Array.isArray(p.evidence)) throw new Error('alerts or evidence missing');
    return {
      verified: { checkpoint: target, note: p.checkpoint },
      range: CompactRange.fromHex(p.next, p.compactRange),
    };
  } catch (e) {
    return (e as Error).message;
  }
}
