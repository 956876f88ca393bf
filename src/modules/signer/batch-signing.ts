import { signLogCheckpoint } from '../../core/checkpoint';
import { LogSigningKey } from '../../core/keys';
import { signSet } from '../../core/set';

/** What a batch needs signed: one SET per appended entry, then the checkpoint covering them. */
export interface SignBatchRequest {
  /** Canonical entry bodies, in index order from firstIndex. */
  readonly bodies: readonly Uint8Array[];
  readonly firstIndex: number;
  readonly integratedTime: number;
  /** The tree after the batch. */
  readonly size: number;
  readonly root: Uint8Array;
}

export interface SignedBatch {
  /** SETs, bodies[i] at logIndex firstIndex + i. */
  readonly sets: Buffer[];
  /** The checkpoint note for (size, root). */
  readonly note: string;
}

/** The private halves and the public names a signing thread needs. */
export interface SigningKeys {
  readonly key: LogSigningKey;
  readonly noteKey?: LogSigningKey;
  readonly origin: string;
  readonly hostname: string;
  readonly logIdHex: string;
}

/** How keys cross to a worker thread (PKCS#8 PEM: a KeyObject cannot be posted). */
export interface SigningKeysData {
  readonly keyPem: string;
  readonly noteKeyPem?: string;
  readonly origin: string;
  readonly hostname: string;
  readonly logIdHex: string;
}

export function keysToData(k: SigningKeys): SigningKeysData {
  return {
    keyPem: k.key.toPkcs8Pem(),
    ...(k.noteKey !== undefined ? { noteKeyPem: k.noteKey.toPkcs8Pem() } : {}),
    origin: k.origin,
    hostname: k.hostname,
    logIdHex: k.logIdHex,
  };
}

export function keysFromData(d: SigningKeysData): SigningKeys {
  return {
    key: LogSigningKey.fromPem(d.keyPem),
    ...(d.noteKeyPem !== undefined ? { noteKey: LogSigningKey.fromPem(d.noteKeyPem) } : {}),
    origin: d.origin,
    hostname: d.hostname,
    logIdHex: d.logIdHex,
  };
}

export function signCheckpointWith(k: SigningKeys, size: number, root: Uint8Array): string {
  return signLogCheckpoint(
    { origin: k.origin, size, rootHash: Buffer.from(root), extensions: [] },
    k.hostname,
    k.key,
    k.noteKey,
  );
}

/** Signs a whole batch; the same code runs in the signing thread and, as a fallback, in-thread. */
export function signBatchWith(k: SigningKeys, req: SignBatchRequest): SignedBatch {
  const sets = req.bodies.map((body, i) =>
    signSet(k.key, {
      body: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'),
      integratedTime: req.integratedTime,
      logID: k.logIdHex,
      logIndex: req.firstIndex + i,
    }),
  );
  return { sets, note: signCheckpointWith(k, req.size, req.root) };
}
