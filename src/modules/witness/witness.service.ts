import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { isVellumError } from '../../core/errors';
import { LogSigningKey } from '../../core/keys';
import {
  ed25519CosignatureSigner,
  formatVerifierKey,
  NOTE_KEY_TYPE,
  parseVerifierKey,
} from '../../core/note';
import {
  cosignatureLines,
  decideAddCheckpoint,
  parseAddCheckpointRequest,
  type AddCheckpointRequest,
  type WitnessedLog,
} from '../../core/witness/add-checkpoint';
import { MetricsService } from '../api/metrics.service';
import { WITNESS_CONFIG, type WitnessConfig } from './witness.config';
import { WitnessStateRepository, type StoredWitnessCheckpoint } from './witness-state.repository';

/** An HTTP answer of add-checkpoint: status, content type and text body. */
export interface WitnessAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

/**
 * Vellum as a C2SP tlog-witness: checks each add-checkpoint against the stored checkpoint of its
 * origin, persists by compare-and-set, and only then cosigns. The stored state is cached in
 * memory but never trusted over the database: a lost compare-and-set re-reads it and answers 409.
 */
@Injectable()
export class WitnessService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Witness');
  private readonly logs: Map<string, WitnessedLog>;
  private state = new Map<string, StoredWitnessCheckpoint>();
  readonly vkey: string;
  private readonly requests: Counter<'result'>;
  private readonly sizes: Gauge<'origin'>;

  constructor(
    @Inject(WITNESS_CONFIG) private readonly config: WitnessConfig,
    @Inject(LogSigningKey) private readonly key: LogSigningKey,
    private readonly repo: WitnessStateRepository,
    metrics: MetricsService,
  ) {
    this.logs = new Map(
      config.logs.map((l) => [l.origin, { origin: l.origin, verifiers: [parseVerifierKey(l.vkey)] }]),
    );
    this.vkey = formatVerifierKey(config.name, NOTE_KEY_TYPE.cosignatureV1, key.publicKey.raw);
    this.requests = new Counter({
      name: 'vellum_witness_add_checkpoint_total',
      help: 'add-checkpoint requests this witness answered, by result (cosigned, conflict, or the refusal status; inconsistent = fork evidence)',
      labelNames: ['result'],
      registers: [metrics.registry],
    });
    this.sizes = new Gauge({
      name: 'vellum_witness_cosigned_size',
      help: 'the tree size this witness last cosigned, per log origin',
      labelNames: ['origin'],
      registers: [metrics.registry],
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.state = await this.repo.all();
    for (const [origin, s] of this.state) this.sizes.set({ origin }, s.size);
    this.logger.log(
      `witness vkey ${this.vkey}; cosigning for ${[...this.logs.keys()].join(', ') || 'no logs'}`,
    );
  }

  async addCheckpoint(body: Buffer, nowMs: number = Date.now()): Promise<WitnessAnswer> {
    const request = parseAddCheckpointRequest(body);
    const decision = decideAddCheckpoint(
      request,
      (o) => this.logs.get(o),
      (o) => this.state.get(o),
    );
    if (decision.kind === 'conflict') return this.conflict(decision.size);
    if (decision.kind === 'reject') {
      if (decision.inconsistent) await this.raiseInconsistent(request, decision.reason, nowMs);
      else this.requests.inc({ result: String(decision.status) });
      return { status: decision.status, type: 'text/plain; charset=utf-8', body: `${decision.reason}\n` };
    }
    const cp = decision.checkpoint;
    const stored = this.state.get(cp.origin);
    if (stored === undefined || stored.size !== cp.size) {
      const won = await this.repo.compareAndSet(cp, request.note, stored, nowMs);
      if (!won) {
        // Another request moved the state first: reload and let the client resend from it.
        this.state = await this.repo.all();
        return this.conflict(this.state.get(cp.origin)?.size ?? 0);
      }
      this.state.set(cp.origin, { size: cp.size, rootHash: cp.rootHash, note: request.note });
      this.sizes.set({ origin: cp.origin }, cp.size);
    }
    this.requests.inc({ result: 'cosigned' });
    // cosignature/v1 needs a non-zero timestamp in seconds.
    const signer = ed25519CosignatureSigner(
      this.config.name,
      this.key,
      Math.max(1, Math.floor(nowMs / 1000)),
    );
    return { status: 200, type: 'text/plain; charset=utf-8', body: cosignatureLines(decision.text, signer) };
  }

  private conflict(size: number): WitnessAnswer {
    this.requests.inc({ result: 'conflict' });
    return { status: 409, type: 'text/x.tlog.size', body: `${size}\n` };
  }

  /**
   * An authentic checkpoint that contradicts what this witness cosigned: the log showed two
   * views. Kept as evidence, logged at error level with the monitor's `log.inconsistent` name,
   * and counted, so alerting on the metric or the log line catches it.
   */
  private async raiseInconsistent(
    request: AddCheckpointRequest,
    reason: string,
    nowMs: number,
  ): Promise<void> {
    this.requests.inc({ result: 'inconsistent' });
    const origin = request.checkpoint.origin;
    const stored = this.state.get(origin);
    try {
      await this.repo.recordRefusal(origin, reason, request.note, stored?.note, nowMs);
    } catch (e) {
      this.logger.error(
        `witness could not store fork evidence for ${origin}: ${isVellumError(e) ? e.message : String(e)}`,
      );
    }
    this.logger.error(`log.inconsistent at ${origin}: ${reason}; refused to cosign`);
  }
}
