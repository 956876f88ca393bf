import { Logger, Module } from '@nestjs/common';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import type { LogPublicKey, LogSigningKey } from '../../core/keys';
import { VellumDatabase } from '../storage/database';
import { LogIdentity } from './log-identity';
import { LogSigner } from './log-signer';
import { awaitPublishedIdentity, roleSigns } from './published-identity';
import { loadOrCreateNoteKey, loadOrCreateSigningKey } from './signing-key';

/** Injection token of the log's LogSigningKey (private), or null in roles that do not sign. Only LogSigner should inject it. */
export const LOG_SIGNING_KEY = Symbol('LOG_SIGNING_KEY');
/** Injection token of the log's LogPublicKey. */
export const LOG_PUBLIC_KEY = Symbol('LOG_PUBLIC_KEY');
/** Tree id and public key published by the sequencer, for roles without the private key (null in signing roles). */
const PUBLISHED_IDENTITY = Symbol('PUBLISHED_IDENTITY');
/** The Ed25519 note key (private) of an ECDSA log in signing roles; null otherwise. */
const NOTE_SIGNING_KEY = Symbol('NOTE_SIGNING_KEY');

/**
 * The log's key and identity.
 *
 * Signing roles (ROLE=all, sequencer) load SIGNING_KEY_PATH, or generate an ECDSA P-256 key into
 * DATA_DIR (mode 0600) on first boot, and create the tree id; with an ECDSA log key also the
 * Ed25519 note key (NOTE_KEY_PATH, generated likewise) that signs each checkpoint's C2SP line. Every other role (api, monitor)
 * never touches a private key: LOG_SIGNING_KEY and LogSigner are null there, and the public key
 * and tree id come from PUBLIC_KEY_PATH / the database (see awaitPublishedIdentity), waiting for
 * a sequencer to have initialised the log. Needs StorageModule (the tree id lives in `meta`).
 */
@Module({
  providers: [
    {
      provide: LOG_SIGNING_KEY,
      inject: [VELLUM_CONFIG],
      useFactory: (config: VellumConfig): LogSigningKey | null => {
        if (!roleSigns(config.role)) return null;
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
      provide: NOTE_SIGNING_KEY,
      inject: [LOG_SIGNING_KEY, VELLUM_CONFIG],
      useFactory: (logKey: LogSigningKey | null, config: VellumConfig): LogSigningKey | null => {
        if (logKey === null) return null;
        const loaded = loadOrCreateNoteKey(config, logKey);
        if (loaded === null) return null;
        const logger = new Logger('Signer');
        logger.log(
          `${loaded.generated ? 'generated a new' : 'loaded'} Ed25519 note key ${loaded.generated ? 'at' : 'from'} ${config.noteKeyPath}` +
            ` (signs the C2SP line of every checkpoint)`,
        );
        if (loaded.looseMode !== undefined) {
          logger.warn(
            `${config.noteKeyPath} has mode ${loaded.looseMode.toString(8).padStart(4, '0')}; ` +
              'the note key should be readable by its owner only (chmod 600)',
          );
        }
        return loaded.key;
      },
    },
    {
      provide: PUBLISHED_IDENTITY,
      inject: [LOG_SIGNING_KEY, VellumDatabase, VELLUM_CONFIG],
      useFactory: (key: LogSigningKey | null, db: VellumDatabase, config: VellumConfig) =>
        key === null ? awaitPublishedIdentity(db, config) : null,
    },
    {
      provide: LOG_PUBLIC_KEY,
      inject: [LOG_SIGNING_KEY, PUBLISHED_IDENTITY],
      useFactory: (
        key: LogSigningKey | null,
        published: Awaited<ReturnType<typeof awaitPublishedIdentity>> | null,
      ): LogPublicKey => key?.publicKey ?? published!.publicKey,
    },
    {
      provide: LogIdentity,
      inject: [VellumDatabase, LOG_PUBLIC_KEY, VELLUM_CONFIG, PUBLISHED_IDENTITY, NOTE_SIGNING_KEY],
      useFactory: (
        db: VellumDatabase,
        pub: LogPublicKey,
        config: VellumConfig,
        published: Awaited<ReturnType<typeof awaitPublishedIdentity>> | null,
        noteKey: LogSigningKey | null,
      ) =>
        published !== null
          ? new LogIdentity(published.treeId, pub, config.logHostname, published.noteKey)
          : LogIdentity.load(db, pub, config.logHostname, noteKey?.publicKey),
    },
    {
      provide: LogSigner,
      inject: [LOG_SIGNING_KEY, LogIdentity, NOTE_SIGNING_KEY],
      useFactory: (
        key: LogSigningKey | null,
        identity: LogIdentity,
        noteKey: LogSigningKey | null,
      ): LogSigner | null => (key === null ? null : new LogSigner(key, identity, noteKey ?? undefined)),
    },
  ],
  exports: [LogIdentity, LogSigner, LOG_PUBLIC_KEY],
})
export class SignerModule {}
