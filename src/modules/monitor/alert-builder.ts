/**
 * Turns rule outcomes for one committed entry into alert rows (with offline-verifiable evidence)
 * and their webhook payloads. Shared by the live evaluator and backfills.
 */
import { verifyInclusion } from '../../core/merkle/verify';
import {
  buildIdentityEvent,
  evaluate,
  type EntryIdentity,
  type Expectation,
  type IdentityRule,
  type RuleOutcome,
} from '../../core/monitor';
import type { LogReader } from '../log/log-reader.service';
import type { SignedCheckpoint, StoredEntry } from '../log/log.types';
import type { LogIdentity } from '../identity/log-identity';
import type { AlertEvidence } from './monitor-events';
import type { NewAlert } from './repositories/alert.repository';
import type { ExpectationRecord } from './repositories/expectation.repository';

export function toCoreExpectations(list: readonly ExpectationRecord[]): Expectation[] {
  return list.map((e) => ({
    id: e.id,
    ...(e.runInvocationUri !== undefined ? { runInvocationUri: e.runInvocationUri } : {}),
    ...(e.digest !== undefined ? { digest: e.digest } : {}),
    ...(e.ruleId !== undefined ? { rule: e.ruleId } : {}),
    ...(e.expiresAt !== undefined ? { expiresAtMs: e.expiresAt } : {}),
  }));
}

export async function evidenceFor(
  entry: StoredEntry,
  cp: SignedCheckpoint,
  reader: LogReader,
  log: LogIdentity,
): Promise<AlertEvidence> {
  const proof = await reader.inclusionProof(entry.index, cp.size);
  // Never hand out evidence that does not verify: a failure here is the log contradicting itself.
  verifyInclusion(entry.leafHash, entry.index, cp.size, proof, cp.rootHash);
  return {
    logOrigin: log.origin,
    logId: log.logIdHex,
    logIndex: entry.index,
    uuid: log.entryId(entry.leafHash),
    leafHash: entry.leafHash.toString('hex'),
    body: entry.body.toString('base64'),
    integratedTime: entry.integratedTime,
    signedEntryTimestamp: entry.set.toString('base64'),
    checkpoint: cp.note,
    treeSize: cp.size,
    rootHash: cp.rootHash.toString('hex'),
    inclusionProof: proof.map((h) => h.toString('hex')),
  };
}

export interface EntryAlerts {
  readonly outcomes: RuleOutcome[];
  readonly alerts: NewAlert[];
}

/** Evaluates `rules` on one entry and builds its alert rows (evidence only when there is an outcome). */
export async function alertsForEntry(
  entry: StoredEntry,
  identity: EntryIdentity,
  rules: readonly IdentityRule[],
  expectations: readonly Expectation[],
  nowMs: number,
  cp: SignedCheckpoint,
  reader: LogReader,
  log: LogIdentity,
  source: 'live' | 'backfill',
): Promise<EntryAlerts> {
  const outcomes = evaluate(rules, identity, { expectations, nowMs });
  if (outcomes.length === 0) return { outcomes, alerts: [] };
  const evidence = await evidenceFor(entry, cp, reader, log);
  const byId = new Map(rules.map((r) => [r.id, r]));
  const alerts = outcomes.map((o): NewAlert => {
    const built = buildIdentityEvent(
      o,
      identity,
      {
        logOrigin: log.origin,
        index: entry.index,
        leafHash: evidence.leafHash,
        uuid: evidence.uuid,
        integratedTime: entry.integratedTime,
        evidence,
      },
      nowMs,
    );
    return {
      id: built.id,
      type: o.eventType,
      ruleId: o.ruleId,
      ruleDigest: o.ruleDigest,
      severity: o.severity,
      action: o.action,
      expected: o.expected,
      entryIndex: entry.index,
      leafHash: evidence.leafHash,
      uuid: evidence.uuid,
      summary: built.event.data.summary,
      identity: built.event.data.signers,
      reasons: { reasons: o.reasons, expectationIds: o.expectationIds },
      evidence,
      payload: built.body,
      source,
      notify: byId.get(o.ruleId)?.notify ?? [],
    };
  });
  return { outcomes, alerts };
}
