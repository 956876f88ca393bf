import { Inject, Injectable } from '@nestjs/common';
import { VellumError } from '../../core/errors';
import { buildSigningConfig, type SigningConfigJson } from '../../core/trust/signing-config';
import { buildTrustedRoot, type TrustedRootJson } from '../../core/trust/trusted-root';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import { LogIdentity } from '../identity/log-identity';
import { VellumDatabase } from '../storage/database';
import { logCreatedAtMs } from '../storage/log-queries';

/** RFC 3339 to the second, rounded down, so no entry's integratedTime precedes it. */
export function rfc3339Seconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The operator named in the SigningConfig: the public URL's host name. */
export function operatorOf(publicUrl: string): string {
  return new URL(publicUrl).hostname;
}

/**
 * The trust files of this log, built from public facts only (key, hostname, public URL, creation
 * time), so every role that serves reads, API replicas included, serves the same bytes.
 */
@Injectable()
export class TrustService {
  private createdAt: string | undefined;

  constructor(
    private readonly identity: LogIdentity,
    private readonly db: VellumDatabase,
    @Inject(VELLUM_CONFIG) private readonly config: VellumConfig,
  ) {}

  /** The log's creation time; fixed once the first checkpoint is stored, so cached after one read. */
  private async validFrom(): Promise<string> {
    if (this.createdAt === undefined) {
      const ms = await logCreatedAtMs((sql, params) => this.db.read(sql, params));
      if (ms === undefined) throw new VellumError('UNAVAILABLE', 'the log has not been initialised yet');
      this.createdAt = rfc3339Seconds(ms);
    }
    return this.createdAt;
  }

  async trustedRoot(): Promise<TrustedRootJson> {
    return buildTrustedRoot({
      baseUrl: this.config.publicUrl,
      signerName: this.identity.hostname,
      logKey: this.identity.publicKey,
      validFrom: await this.validFrom(),
    });
  }

  async signingConfig(): Promise<SigningConfigJson> {
    return buildSigningConfig({
      baseUrl: this.config.publicUrl,
      operator: operatorOf(this.config.publicUrl),
      validFrom: await this.validFrom(),
    });
  }

  /** C2SP verifier keys of the checkpoints, one per line. */
  vkeys(): string {
    return this.identity.vkeys.map((k) => `${k}\n`).join('');
  }
}
