/**
 * The monitor CLI's rule matching: each verified entry is evaluated against the identity rules,
 * and the matches are held (and saved with the scan's progress) until the pass reaches its
 * checkpoint, so a pass that stops half-way reports nothing, and one that resumes reports every
 * match of the scan, the earlier ones included.
 */
import { VellumError } from '../../core/errors';
import type { VerifiedBatch, VerifiedEntry } from '../../core/follower/log-follower';
import type { LogPublicKey } from '../../core/keys';
import { buildIdentityEvent, evaluate, type IdentityRule } from '../../core/monitor';
import { safeExtract, verifyAlertEvidence, type AlertEvidence } from '../../modules/monitor/monitor-events';
import type { verifyRekorCheckpoint } from '../../core/checkpoint';
import type { PendingAlert, TailerProgress } from './state-file';
import type { V1Extra } from './v1-leaf-source';

export class TailerMatcher {
  private alerts: PendingAlert[] = [];
  private evidence: AlertEvidence[] = [];
  private readonly verifiedNotes = new Map<string, ReturnType<typeof verifyRekorCheckpoint>>();

  constructor(
    private readonly rules: readonly IdentityRule[],
    private readonly publicKey: LogPublicKey,
    private readonly now: () => number,
    /** v1 entries carry the log's own inclusion proof, which must verify too. */
    private readonly checkServedProofs: boolean,
    /** Virtual index of this tree's leaf 0 (Rekor shards). */
    private readonly offset: () => number,
  ) {}

  /** Continues a saved scan: its matches are reported with the new ones. */
  carry(progress: TailerProgress): void {
    this.alerts = progress.alerts.map((a) => ({ ...a }));
    this.evidence = [...progress.evidence];
  }

  pending(): { alerts: PendingAlert[]; evidence: AlertEvidence[] } {
    return { alerts: this.alerts, evidence: this.evidence };
  }

  clear(): void {
    this.alerts = [];
    this.evidence = [];
  }

  accept(batch: VerifiedBatch<V1Extra>): void {
    if (this.rules.length === 0) return;
    for (const e of batch.entries) this.match(e, batch.verified.checkpoint.origin, batch.verified.note);
  }

  private match(e: VerifiedEntry<V1Extra>, origin: string, note: string): void {
    const identity = safeExtract(e.body);
    const outcomes = evaluate(this.rules, identity, { nowMs: this.now() });
    if (outcomes.length === 0) return;
    const x = e.extra;
    const leaf = e.leafHash.toString('hex');
    const ip = x?.value.verification?.inclusionProof;
    const served = this.checkServedProofs && ip !== undefined && ip !== null;
    const evidence: AlertEvidence | Record<string, unknown> = served
      ? {
          logOrigin: origin,
          logId: this.publicKey.logIdHex,
          logIndex: e.index,
          uuid: x!.uuid,
          leafHash: leaf,
          body: e.body.toString('base64'),
          integratedTime: x!.integratedTime,
          signedEntryTimestamp: String(x!.value.verification?.signedEntryTimestamp ?? ''),
          checkpoint: String(ip?.checkpoint ?? ''),
          treeSize: Number(ip?.treeSize),
          rootHash: String(ip?.rootHash ?? ''),
          inclusionProof: Array.isArray(ip?.hashes) ? (ip.hashes as string[]) : [],
        }
      : {
          // No proof served (optional in Rekor v1, absent from tiles): the checkpoint the entry
          // was proven in is the evidence.
          logOrigin: origin,
          logId: this.publicKey.logIdHex,
          logIndex: e.index,
          ...(x !== undefined ? { uuid: x.uuid, integratedTime: x.integratedTime } : {}),
          leafHash: leaf,
          body: e.body.toString('base64'),
          checkpoint: note,
        };
    if (served) {
      try {
        verifyAlertEvidence(evidence as AlertEvidence, this.publicKey, this.verifiedNotes);
      } catch (err) {
        throw new VellumError(
          'INCONSISTENT_LOG',
          `entry ${e.index}: the inclusion proof the log served does not verify: ${(err as Error).message}`,
          { checkpoint: note },
        );
      }
      this.evidence.push(evidence as AlertEvidence);
    }
    for (const o of outcomes) {
      const built = buildIdentityEvent(
        o,
        identity,
        {
          logOrigin: origin,
          index: this.offset() + e.index,
          leafHash: leaf,
          ...(x !== undefined ? { uuid: x.uuid, integratedTime: x.integratedTime } : {}),
          evidence,
        },
        this.now(),
      );
      this.alerts.push({
        id: built.id,
        event: { id: built.id, ...built.event },
        body: built.body.toString('base64'),
      });
    }
  }
}
