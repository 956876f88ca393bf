import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { verifyRekorCheckpoint } from '../../core/checkpoint';
import { isVellumError } from '../../core/errors';
import { LogPublicKey } from '../../core/keys';
import { ConfigError, type VellumConfig } from '../config/config';
import type { SqlTx, VellumDatabase } from '../storage/database';
import { latestCheckpoint } from '../storage/log-queries';

/** `meta` keys: the tree id (fixed at first boot) and the log's public key (published by the sequencer). */
export const META_TREE_ID = 'tree_id';
export const META_PUBLIC_KEY = 'public_key';

async function readMeta(db: VellumDatabase, key: string): Promise<string | undefined> {
  const rows = await db.read<{ value: string }>('SELECT value FROM meta WHERE key = ?', [key]);
  return rows[0]?.value;
}

/**
 * Inside the sequencer's fenced transaction, once the stored log verified under its key: records
 * that key as the log's public key for the processes without the private key. Written only by the
 * lease holder after that check, so `meta.public_key` is always the key the checkpoints verify
 * under. A crash before COMMIT leaves the previous value (or none); the next start writes it.
 */
export async function publishPublicKey(tx: SqlTx, key: LogPublicKey): Promise<void> {
  await tx.execute(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    [META_PUBLIC_KEY, key.pem],
  );
}

export interface PublishedIdentity {
  readonly treeId: string;
  readonly publicKey: LogPublicKey;
}

function parsePem(pem: string, where: string, variable?: string): LogPublicKey {
  try {
    return LogPublicKey.fromPem(pem);
  } catch (e) {
    const why = isVellumError(e) ? e.message : String(e);
    if (variable !== undefined)
      throw new ConfigError(variable, `${where} is not a usable log public key (${why})`);
    throw new Error(`${where} is not a usable log public key (${why})`);
  }
}

/**
 * For processes without the private key (ROLE=api, monitor): the tree id and the log's public key.
 * The key comes from PUBLIC_KEY_PATH, or else from `meta.public_key`, which the active sequencer
 * writes at start. Waits (polling) until the sequencer has initialised the log: tree id, key and
 * a first checkpoint that verifies under the key with this process's LOG_HOSTNAME. A checkpoint
 * that does not verify is a configuration mistake (wrong PUBLIC_KEY_PATH or LOG_HOSTNAME) and
 * stops the boot.
 */
export async function awaitPublishedIdentity(
  db: VellumDatabase,
  config: VellumConfig,
  pollMs = 500,
): Promise<PublishedIdentity> {
  const logger = new Logger('Signer');
  let fileKey: LogPublicKey | undefined;
  if (config.publicKeyPath !== undefined) {
    let pem: string;
    try {
      pem = readFileSync(config.publicKeyPath, 'utf8');
    } catch (e) {
      throw new ConfigError(
        'PUBLIC_KEY_PATH',
        `cannot read ${config.publicKeyPath}: ${(e as Error).message}`,
      );
    }
    fileKey = parsePem(pem, config.publicKeyPath, 'PUBLIC_KEY_PATH');
  }
  let waitingSince: number | undefined;
  for (;;) {
    let problem: string;
    try {
      const treeId = await readMeta(db, META_TREE_ID);
      const metaPem = await readMeta(db, META_PUBLIC_KEY);
      const cp = await latestCheckpoint((sql, params) => db.read(sql, params));
      const key = fileKey ?? (metaPem === undefined ? undefined : parsePem(metaPem, 'meta.public_key'));
      if (treeId !== undefined && key !== undefined && cp !== undefined) {
        try {
          verifyRekorCheckpoint(cp.note, key, config.logHostname);
        } catch (e) {
          const source =
            fileKey !== undefined ? `PUBLIC_KEY_PATH ${config.publicKeyPath}` : 'meta.public_key';
          throw new ConfigError(
            fileKey !== undefined ? 'PUBLIC_KEY_PATH' : 'LOG_HOSTNAME',
            `the log's latest checkpoint (size ${cp.size}) does not verify under the key from ${source} ` +
              `(logID ${key.logIdHex}) with signer name ${JSON.stringify(config.logHostname)}: ${(e as Error).message}. ` +
              "Every process of one log needs the same LOG_HOSTNAME, and PUBLIC_KEY_PATH must be the sequencer key's public half",
          );
        }
        if (waitingSince !== undefined) logger.log('the sequencer has initialised the log');
        logger.log(
          `log public key (logID ${key.logIdHex}) from ${fileKey !== undefined ? 'PUBLIC_KEY_PATH' : 'the database'}`,
        );
        return { treeId, publicKey: key };
      }
      problem = [
        treeId === undefined ? 'no tree id' : '',
        key === undefined ? 'no published public key' : '',
        cp === undefined ? 'no checkpoint' : '',
      ]
        .filter((s) => s !== '')
        .join(', ');
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      problem = `database unreadable: ${(e as Error).message}`;
    }
    if (waitingSince === undefined) {
      waitingSince = Date.now();
      logger.warn(
        `waiting for a sequencer to initialise the log (${problem}); this process holds no private key`,
      );
    }
    await sleep(pollMs);
  }
}
