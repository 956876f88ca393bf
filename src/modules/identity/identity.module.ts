import { type DynamicModule, Global, Module, type Type } from '@nestjs/common';
import type { LogPublicKey } from '../../core/keys';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import { VellumDatabase } from '../storage/database';
import { LogIdentity } from './log-identity';
import { type PublishedIdentity, awaitPublishedIdentity } from './published-identity';

/** Injection token of the log's LogPublicKey. */
export const LOG_PUBLIC_KEY = Symbol('LOG_PUBLIC_KEY');
/**
 * The public half of the key this process signs with: provided by the signer's key module in
 * signing roles, null otherwise (then IdentityModule waits for the published identity).
 */
export const SIGNING_PUBLIC_KEY = Symbol('SIGNING_PUBLIC_KEY');
/** The public half of this process's Ed25519 note key (ECDSA logs in signing roles); null otherwise. */
export const SIGNING_NOTE_PUBLIC_KEY = Symbol('SIGNING_NOTE_PUBLIC_KEY');
/** Tree id and public key published by the sequencer, for roles without the private key (null in signing roles). */
const PUBLISHED_IDENTITY = Symbol('PUBLISHED_IDENTITY');

/**
 * The log's public face: LogIdentity (tree id, public key, hostname, origin) and LOG_PUBLIC_KEY.
 * Global, registered once by the role table, so HTTP faces and the monitor get it without any
 * path to the private key.
 *
 * `signingKey` is the module providing SIGNING_PUBLIC_KEY in roles that sign (ROLE=all,
 * sequencer): the key and the tree id (created on first boot) are this process's own. Every other
 * role reads them from PUBLIC_KEY_PATH / the database (awaitPublishedIdentity), waiting for a
 * sequencer to have initialised the log. Needs StorageModule (the tree id lives in `meta`).
 */
@Global()
@Module({})
export class IdentityModule {
  static forRoot(signingKey?: Type<unknown>): DynamicModule {
    return {
      module: IdentityModule,
      imports: signingKey === undefined ? [] : [signingKey],
      providers: [
        // Not an optional injection: Nest turns any failure of an optional dependency (a missing
        // key file) into "absent", which would make a signing process wait for a published key.
        ...(signingKey === undefined
          ? [
              { provide: SIGNING_PUBLIC_KEY, useValue: null },
              { provide: SIGNING_NOTE_PUBLIC_KEY, useValue: null },
            ]
          : []),
        {
          provide: PUBLISHED_IDENTITY,
          inject: [SIGNING_PUBLIC_KEY, VellumDatabase, VELLUM_CONFIG],
          useFactory: (own: LogPublicKey | null, db: VellumDatabase, config: VellumConfig) =>
            own === null ? awaitPublishedIdentity(db, config) : null,
        },
        {
          provide: LOG_PUBLIC_KEY,
          inject: [SIGNING_PUBLIC_KEY, PUBLISHED_IDENTITY],
          useFactory: (own: LogPublicKey | null, published: PublishedIdentity | null): LogPublicKey =>
            own ?? published!.publicKey,
        },
        {
          provide: LogIdentity,
          inject: [
            VellumDatabase,
            LOG_PUBLIC_KEY,
            VELLUM_CONFIG,
            PUBLISHED_IDENTITY,
            SIGNING_NOTE_PUBLIC_KEY,
          ],
          useFactory: (
            db: VellumDatabase,
            pub: LogPublicKey,
            config: VellumConfig,
            published: PublishedIdentity | null,
            ownNoteKey: LogPublicKey | null,
          ) =>
            published !== null
              ? new LogIdentity(published.treeId, pub, config.logHostname, published.noteKey)
              : LogIdentity.load(db, pub, config.logHostname, ownNoteKey ?? undefined),
        },
      ],
      exports: [LogIdentity, LOG_PUBLIC_KEY],
    };
  }
}
