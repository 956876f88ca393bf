import { Logger, Module } from '@nestjs/common';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import type { LogPublicKey, LogSigningKey } from '../../core/keys';
import { LogIdentity } from '../identity/log-identity';
import { SIGNING_NOTE_PUBLIC_KEY, SIGNING_PUBLIC_KEY } from '../identity/identity.module';
import { LogSigner } from './log-signer';
import { loadOrCreateNoteKey, loadOrCreateSigningKey } from './signing-key';

/** Injection token of the log's LogSigningKey (private). Only LogSigner should inject it. */
export const LOG_SIGNING_KEY = Symbol('LOG_SIGNING_KEY');
/** The Ed25519 note key (private) of an ECDSA log; null for an Ed25519 log, whose own key signs the C2SP line. */
const NOTE_SIGNING_KEY = Symbol('NOTE_SIGNING_KEY');

function warnLooseMode(logger: Logger, path: string, mode: number | undefined, what: string): void {
  if (mode === undefined) return;
  logger.warn(
    `${path} has mode ${mode.toString(8).padStart(4, '0')}; ${what} should be readable by its owner only (chmod 600)`,
  );
}

/**
 * The log's private keys, in the roles that sign (ROLE=all, sequencer) and nowhere else: loads
 * SIGNING_KEY_PATH, or generates an ECDSA P-256 key into DATA_DIR (mode 0600) on first boot; with
 * an ECDSA log key also the Ed25519 note key (NOTE_KEY_PATH, generated likewise) that signs each
 * checkpoint's C2SP line. Gives IdentityModule the public halves (SIGNING_PUBLIC_KEY,
 * SIGNING_NOTE_PUBLIC_KEY).
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
        warnLooseMode(logger, config.signingKeyPath, loaded.looseMode, 'the log key');
        logger.log(`log public key (logID ${pub.logIdHex}):\n${pub.pem.trimEnd()}`);
        return loaded.key;
      },
    },
    {
      provide: NOTE_SIGNING_KEY,
      inject: [LOG_SIGNING_KEY, VELLUM_CONFIG],
      useFactory: (logKey: LogSigningKey, config: VellumConfig): LogSigningKey | null => {
        const loaded = loadOrCreateNoteKey(config, logKey);
        if (loaded === null) return null;
        const logger = new Logger('Signer');
        logger.log(
          `${loaded.generated ? 'generated a new' : 'loaded'} Ed25519 note key ${loaded.generated ? 'at' : 'from'} ${config.noteKeyPath}` +
            ' (signs the C2SP line of every checkpoint)',
        );
        warnLooseMode(logger, config.noteKeyPath, loaded.looseMode, 'the note key');
        return loaded.key;
      },
    },
    {
      provide: SIGNING_PUBLIC_KEY,
      inject: [LOG_SIGNING_KEY],
      useFactory: (key: LogSigningKey): LogPublicKey => key.publicKey,
    },
    {
      provide: SIGNING_NOTE_PUBLIC_KEY,
      inject: [NOTE_SIGNING_KEY],
      useFactory: (key: LogSigningKey | null): LogPublicKey | null => key?.publicKey ?? null,
    },
  ],
  exports: [LOG_SIGNING_KEY, NOTE_SIGNING_KEY, SIGNING_PUBLIC_KEY, SIGNING_NOTE_PUBLIC_KEY],
})
export class SigningKeyModule {}

/**
 * LogSigner: SETs and checkpoints under the private keys. Only the sequencer uses it. Needs
 * IdentityModule.forRoot(SigningKeyModule) (global) and StorageModule.
 */
@Module({
  imports: [SigningKeyModule],
  providers: [
    {
      provide: LogSigner,
      inject: [LOG_SIGNING_KEY, LogIdentity, NOTE_SIGNING_KEY],
      useFactory: (key: LogSigningKey, identity: LogIdentity, noteKey: LogSigningKey | null): LogSigner =>
        new LogSigner(key, identity, noteKey ?? undefined),
    },
  ],
  exports: [LogSigner],
})
export class SignerModule {}
