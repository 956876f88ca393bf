import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { checkpointNoteKey, verifyRekorCheckpoint } from '../../core/checkpoint';
import { ed25519NoteVerifier, parseSignedNote, rekorKeyId } from '../../core/note';
import { isVellumError } from '../../core/errors';
import { LogPublicKey } from '../../core/keys';
import { ConfigError, type VellumConfig } from '../config/config';
import type { SqlTx, VellumDatabase } from '../storage/database';
import { latestCheckpoint } from '../storage/log-queries';

/**
 * `meta` keys: the tree id (fixed at first boot), the log's public key and, for an ECDSA log key,
 * the Ed25519 note key of the checkpoints' C2SP line (both published by the sequencer).
 */
export const META_TREE_ID = 'tree_id';
export const META_PUBLIC_KEY = 'public_key';
export const META_NOTE_PUBLIC_KEY = 'note_public_key';

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
export async function publishPublicKey(tx: SqlTx, key: LogPublicKey, noteKey?: LogPublicKey): Promise<void> {
  const upsert =
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value';
  await tx.execute(upsert, [META_PUBLIC_KEY, key.pem]);
  if (key.algorithm !== 'ed25519') {
    await tx.execute(upsert, [META_NOTE_PUBLIC_KEY, checkpointNoteKey(key, noteKey).pem]);
  }
}

export interface PublishedIdentity {
  readonly treeId: string;
  readonly publicKey: LogPublicKey;
  /** The note key of an ECDSA log (undefined for Ed25519, whose log key signs the C2SP line). */
  readonly noteKey: LogPublicKey | undefined;
}

/**
 * Checkpoints signed before the note key existed carry only the Rekor-style line. A checkpoint
 * with a further line by our name must carry one by the published note key that verifies, or the
 * published key is not the one the sequencer signs with.
 */
function checkNoteLine(note: string, hostname: string, logKey: LogPublicKey, noteKey: LogPublicKey): void {
  const verifier = ed25519NoteVerifier(hostname, checkpointNoteKey(logKey, noteKey));
  const { text, signatures } = parseSignedNote(note);
  const rekorHint = rekorKeyId(logKey.der);
  const others = signatures.filter((s) => s.name === hostname && s.keyId !== rekorHint);
  if (others.length === 0) return;
  const mine = others.find((s) => s.keyId === verifier.keyId);
  if (mine === undefined) throw new Error(`it has no line by ${hostname} with the published note key's ID`);
  if (!verifier.verify(Buffer.from(text, 'utf8'), mine.signature)) {
    throw new Error(`its line by ${hostname} does not verify under the published note key`);
  }
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
      const notePem = await readMeta(db, META_NOTE_PUBLIC_KEY);
      const cp = await latestCheckpoint((sql, params) => db.read(sql, params));
      const key = fileKey ?? (metaPem === undefined ? undefined : parsePem(metaPem, 'meta.public_key'));
      const noteKey = notePem === undefined ? undefined : parsePem(notePem, 'meta.note_public_key');
      const noteKeyMissing = key !== undefined && key.algorithm !== 'ed25519' && noteKey === undefined;
      if (treeId !== undefined && key !== undefined && cp !== undefined && !noteKeyMissing) {
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
        if (key.algorithm !== 'ed25519') {
          try {
            checkNoteLine(cp.note, config.logHostname, key, noteKey!);
          } catch (e) {
            throw new ConfigError(
              'NOTE_KEY_PATH',
              `the C2SP line of the log's latest checkpoint (size ${cp.size}) does not verify under meta.note_public_key: ${(e as Error).message}. Was NOTE_KEY_PATH (or DATA_DIR/note-key.pem) replaced?`,
            );
          }
        }
        if (waitingSince !== undefined) logger.log('the sequencer has initialised the log');
        logger.log(
          `log public key (logID ${key.logIdHex}) from ${fileKey !== undefined ? 'PUBLIC_KEY_PATH' : 'the database'}`,
        );
        return { treeId, publicKey: key, noteKey };
      }
      problem = [
        treeId === undefined ? 'no tree id' : '',
        key === undefined ? 'no published public key' : '',
        cp === undefined ? 'no checkpoint' : '',
        noteKeyMissing ? 'no published note key' : '',
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
