import { Logger, Module } from '@nestjs/common';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import type { LogPublicKey, LogSigningKey } from '../../core/keys';
import { LogIdentity } from '../identity/log-identity';
import { SIGNING_PUBLIC_KEY } from '../identity/identity.module';
import { LogSigner } from './log-signer';
import { loadOrCreateSigningKey } from './signing-key';

/** Injection token of the log's LogSigningKey (private). Only LogSigner should inject it. */
export const LOG_SIGNING_KEY = Symbol('LOG_SIGNING_KEY');

/**
 * The log's private key, in the roles that sign (ROLE=all, sequencer) and nowhere else: loads
 * SIGNING_KEY_PATH, or generates an ECDSA P-256 key into DATA_DIR (mode 0600) on first boot.
 * Gives IdentityModule the public half (SIGNING_PUBLIC_KEY).
 */
@Module({
  providers: [
    {
      provide: LOG_SIGNING_KEY,
      inject: [VELLUM_CONFIG],
      useFactory: (config: VellumConfig): LogSigningKey => {
        const logger = new Logger('Signer');
        const loaded = loadOrCreateSigningKey(config);
        const pub = loaded.key.publicKey;
        const alg = loaded.key.algorithm === 'ed25519' ? 'Ed25519' : 'ECDSA P-256';
        if (loaded.generated)
          logger.log(`generated a new ${alg} log key at ${config.signingKeyPath} (mode 0600)`);
        else logger.log(`loaded ${alg} log key from ${config.signingKeyPath}`);
        if (loaded.looseMode !== undefined) {
          logger.warn(
            `${config.signingKeyPath} has mode ${loaded.looseMode.toString(8).padStart(4, '0')}; ` +
              'the log key should be readable by its owner only (chmod 600)',
          );
        }
        logger.log(`log public key (logID ${pub.logIdHex}):\n${pub.pem.trimEnd()}`);
        return loaded.key;
      },
    },
    {
      provide: SIGNING_PUBLIC_KEY,
      inject: [LOG_SIGNING_KEY],
      useFactory: (key: LogSigningKey): LogPublicKey => key.publicKey,
    },
  ],
  exports: [LOG_SIGNING_KEY, SIGNING_PUBLIC_KEY],
})
export class SigningKeyModule {}

/**
 * LogSigner: SETs and checkpoints under the private key. Only the sequencer uses it. Needs
 * IdentityModule.forRoot(SigningKeyModule) (global) and StorageModule.
 */
@Module({
  imports: [SigningKeyModule],
  providers: [
    {
      provide: LogSigner,
      inject: [LOG_SIGNING_KEY, LogIdentity],
      useFactory: (key: LogSigningKey, identity: LogIdentity): LogSigner => new LogSigner(key, identity),
    },
  ],
  exports: [LogSigner],
})
export class SignerModule {}
