import { Logger, Module } from '@nestjs/common';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import type { LogPublicKey, LogSigningKey } from '../../core/keys';
import { VellumDatabase } from '../storage/database';
import { LogIdentity } from './log-identity';
import { LogSigner } from './log-signer';
import { loadOrCreateSigningKey } from './signing-key';

/** Injection token of the log's LogSigningKey (private). Only LogSigner should inject it. */
export const LOG_SIGNING_KEY = Symbol('LOG_SIGNING_KEY');
/** Injection token of the log's LogPublicKey. */
export const LOG_PUBLIC_KEY = Symbol('LOG_PUBLIC_KEY');

/**
 * The log's key and identity. Loads SIGNING_KEY_PATH, or generates an ECDSA P-256 key into
 * DATA_DIR (mode 0600) on first boot. Needs StorageModule (the tree id lives in `meta`).
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
      provide: LOG_PUBLIC_KEY,
      inject: [LOG_SIGNING_KEY],
      useFactory: (key: LogSigningKey): LogPublicKey => key.publicKey,
    },
    {
      provide: LogIdentity,
      inject: [VellumDatabase, LOG_PUBLIC_KEY, VELLUM_CONFIG],
      useFactory: (db: VellumDatabase, pub: LogPublicKey, config: VellumConfig) =>
        LogIdentity.load(db, pub, config.logHostname),
    },
    {
      provide: LogSigner,
      inject: [LOG_SIGNING_KEY, LogIdentity],
      useFactory: (key: LogSigningKey, identity: LogIdentity) => new LogSigner(key, identity),
    },
  ],
  exports: [LogIdentity, LogSigner, LOG_PUBLIC_KEY],
})
export class SignerModule {}
