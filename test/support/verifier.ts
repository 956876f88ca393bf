/**
 * An independent verifier of Vellum's Rekor v1 responses, written from the specs
 * (Rekor's openapi.yaml and its SET and inclusion-proof rules; RFC 9162 §2.1) with node:crypto only. It deliberately
 * imports nothing from src/: a bug shared by the server and its own core library must not be able
 * to make a test pass.
 */
import { createHash, createPublicKey, KeyObject, verify as cryptoVerify } from 'node:crypto';

export class VerifyError extends Error {
  override readonly name = 'VerifyError';
}

function fail(msg: string): never {
  throw new VerifyError(msg);
}

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export function leafHashOf(body: Uint8Array): Buffer {
  return sha256(Buffer.from([0]), body);
}

export function nodeHashOf(left: Uint8Array, right: Uint8Array): Buffer {
  return sha256(Buffer.from([1]), left, right);
}

/** RFC 6962 MTH over leaf hashes; the slow reference used to cross-check roots. */
export function merkleRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHashOf(merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

function bitLength(x: number): number {
  let n = 0;
  while (x > 0) {
    n++;
    x = Math.floor(x / 2);
  }
  return n;
}

function popcount(x: number): number {
  let n = 0;
  while (x > 0) {
    n += x % 2;
    x = Math.floor(x / 2);
  }
  return n;
}

/** XOR of two non-negative integers below 2^53 (JS bit operators stop at 32 bits). */
function xor(a: number, b: number): number {
  return Number(BigInt(a) ^ BigInt(b));
}

/** The inclusion fold exactly as spec §9 / sigstore-js describe it. */
export function rootFromInclusion(
  leaf: Buffer,
  index: number,
  size: number,
  proof: readonly Buffer[],
): Buffer {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    fail(`invalid index ${index} for size ${size}`);
  }
  const inner = bitLength(xor(index, size - 1));
  const border = popcount(Math.floor(index / 2 ** inner));
  if (proof.length !== inner + border) fail(`invalid hash count ${proof.length}, want ${inner + border}`);
  let h = leaf;
  for (let i = 0; i < inner; i++) {
    const bit = Math.floor(index / 2 ** i) % 2;
    h = bit === 1 ? nodeHashOf(proof[i], h) : nodeHashOf(h, proof[i]);
  }
  for (let i = inner; i < proof.length; i++) h = nodeHashOf(proof[i], h);
  return h;
}

export function verifyInclusion(
  leaf: Buffer,
  index: number,
  size: number,
  proof: readonly Buffer[],
  root: Buffer,
): void {
  for (const p of proof) if (p.length !== 32) fail('proof hash is not 32 bytes');
  if (!rootFromInclusion(leaf, index, size, proof).equals(root)) fail('calculated root does not match');
}

/** RFC 9162 §2.1.4.2. */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Buffer[],
  root1: Buffer,
  root2: Buffer,
): void {
  if (size1 < 1 || size2 < size1) fail(`bad sizes ${size1} -> ${size2}`);
  if (size1 === size2) {
    if (proof.length !== 0) fail('non-empty proof for equal sizes');
    if (!root1.equals(root2)) fail('equal sizes, different roots');
    return;
  }
  if (proof.length === 0) fail('empty consistency proof');
  const isPow2 = (x: number) => x > 0 && 2 ** bitLength(x - 1) === x;
  const path = isPow2(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  const lsb = (x: number) => x % 2 === 1;
  const half = (x: number) => Math.floor(x / 2);
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (sn === 0) fail('consistency proof too long');
    if (lsb(fn) || fn === sn) {
      fr = nodeHashOf(c, fr);
      sr = nodeHashOf(c, sr);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHashOf(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) fail('consistency proof too short');
  if (!fr.equals(root1)) fail('consistency proof does not lead to the first root');
  if (!sr.equals(root2)) fail('consistency proof does not lead to the second root');
}

export interface NoteSignature {
  readonly name: string;
  readonly hint: Buffer;
  readonly signature: Buffer;
}

export interface ParsedCheckpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  /** The signed bytes: origin line through the newline ending the last body line. */
  readonly signedText: string;
  readonly signatures: readonly NoteSignature[];
}

const STRICT_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function b64(s: unknown, what: string): Buffer {
  if (typeof s !== 'string' || !STRICT_B64.test(s)) fail(`${what} is not standard base64`);
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) fail(`${what} is not canonical base64`);
  return b;
}

/** Spec §5: one blank line separating text and signatures, em-dash signature lines, final newline. */
export function parseCheckpointNote(note: string): ParsedCheckpoint {
  if (typeof note !== 'string' || !note.endsWith('\n')) fail('checkpoint must end with a newline');
  const sep = note.indexOf('\n\n');
  if (sep < 0) fail('missing blank line');
  if (note.indexOf('\n\n', sep + 1) >= 0)
    fail('more than one blank line (sigstore-js would split at the first)');
  const signedText = note.slice(0, sep + 1);
  const sigPart = note.slice(sep + 2);
  const lines = signedText.slice(0, -1).split('\n');
  if (lines.length < 3) fail('too few checkpoint lines');
  const [origin, sizeText, rootText] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) fail('bad size line');
  const rootHash = b64(rootText, 'root line');
  if (rootHash.length !== 32) fail('root is not 32 bytes');
  const signatures: NoteSignature[] = [];
  const sigLines = sigPart.slice(0, -1).split('\n');
  for (const l of sigLines) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(l);
    if (!m) fail(`malformed signature line ${JSON.stringify(l)}`);
    const raw = b64(m[2], 'signature');
    if (raw.length < 5) fail('signature too short');
    signatures.push({ name: m[1], hint: raw.subarray(0, 4), signature: raw.subarray(4) });
  }
  return { origin, size: Number(sizeText), rootHash, signedText, signatures };
}

export interface LogKey {
  readonly key: KeyObject;
  readonly der: Buffer;
  readonly logId: Buffer;
  readonly logIdHex: string;
}

export function logKeyFromPem(pem: string): LogKey {
  const key = createPublicKey(pem);
  const der = key.export({ type: 'spki', format: 'der' });
  const logId = sha256(der);
  return { key, der, logId, logIdHex: logId.toString('hex') };
}

/** ECDSA: DER over SHA-256 of the data; Ed25519: pure. */
export function logSignatureValid(k: LogKey, data: Uint8Array, sig: Uint8Array): boolean {
  try {
    if (k.key.asymmetricKeyType === 'ed25519') return cryptoVerify(null, data, k.key, sig);
    return cryptoVerify('sha256', data, k.key, sig);
  } catch {
    return false;
  }
}

/** A checkpoint must carry a signature named `hostname`, hinted logID[0:4], valid over the text. */
export function verifyCheckpointNote(note: string, k: LogKey, hostname: string): ParsedCheckpoint {
  const cp = parseCheckpointNote(note);
  const mine = cp.signatures.filter((s) => s.name === hostname && s.hint.equals(k.logId.subarray(0, 4)));
  if (mine.length !== 1)
    fail(`expected exactly one signature by ${hostname} with hint ${k.logId.subarray(0, 4).toString('hex')}`);
  if (!logSignatureValid(k, Buffer.from(cp.signedText, 'utf8'), mine[0].signature))
    fail('checkpoint signature invalid');
  return cp;
}

/** Spec §4.4: the JCS bytes the SET signs, spelled out by hand. */
export function setPayloadOf(body: string, integratedTime: number, logID: string, logIndex: number): Buffer {
  return Buffer.from(
    `{"body":${JSON.stringify(body)},"integratedTime":${integratedTime},"logID":${JSON.stringify(logID)},"logIndex":${logIndex}}`,
  );
}

export interface LogContext {
  readonly key: LogKey;
  readonly hostname: string;
  readonly treeId: string;
}

export function treeIdHexOf(treeId: string): string {
  return BigInt.asUintN(64, BigInt(treeId)).toString(16).padStart(16, '0');
}

export interface VerifiedEntry {
  readonly entryId: string;
  readonly leafHash: Buffer;
  readonly body: Buffer;
  readonly logIndex: number;
  readonly integratedTime: number;
  readonly checkpoint: ParsedCheckpoint;
  readonly hashes: Buffer[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Everything a Rekor v1 LogEntry response must satisfy (Rekor's LogEntry schema, SET, inclusion proof
 * and checkpoint, including the checks @sigstore/verify skips). Throws VerifyError naming the first broken rule.
 */
export function verifyLogEntry(
  doc: unknown,
  ctx: LogContext,
  opts: { nowSec?: number; /** production Rekor: virtual index != shard index */ sharded?: boolean } = {},
): VerifiedEntry {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('LogEntry is not an object');
  const ids = Object.keys(doc);
  if (ids.length !== 1) fail(`LogEntry must have exactly one key, has ${ids.length}`);
  const entryId = ids[0];
  if (!/^[0-9a-f]{80}$/.test(entryId)) fail(`key ${entryId} is not an 80-hex lowercase EntryID`);
  const e = (doc as Record<string, any>)[entryId];
  const keys = Object.keys(e).sort().join(',');
  if (keys !== 'body,integratedTime,logID,logIndex,verification') fail(`unexpected LogEntry fields ${keys}`);

  const body = b64(e.body, 'body');
  const leaf = leafHashOf(body);
  if (entryId.slice(16) !== leaf.toString('hex')) fail('EntryID does not end with the leaf hash of the body');
  if (entryId.slice(0, 16) !== treeIdHexOf(ctx.treeId)) fail('EntryID does not start with the tree id');
  if (e.logID !== ctx.key.logIdHex) fail('logID is not SHA-256 of the DER public key');
  if (!Number.isSafeInteger(e.logIndex) || e.logIndex < 0) fail('logIndex is not a non-negative integer');
  if (!Number.isSafeInteger(e.integratedTime)) fail('integratedTime is not an integer');
  const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
  // Seconds, not milliseconds, and not in the future (clients compare it with certificate validity).
  if (e.integratedTime > now + 5 || e.integratedTime < now - 24 * 3600)
    fail(`integratedTime ${e.integratedTime} is not near now (${now})`);

  const parsedBody = JSON.parse(body.toString('utf8'));
  if (typeof parsedBody.kind !== 'string' || typeof parsedBody.apiVersion !== 'string')
    fail('body lacks kind/apiVersion');

  const v = e.verification;
  if (Object.keys(v).sort().join(',') !== 'inclusionProof,signedEntryTimestamp')
    fail('unexpected verification fields');
  const set = b64(v.signedEntryTimestamp, 'signedEntryTimestamp');
  if (!logSignatureValid(ctx.key, setPayloadOf(e.body, e.integratedTime, e.logID, e.logIndex), set))
    fail('SET does not verify');

  const ip = v.inclusionProof;
  if (Object.keys(ip).sort().join(',') !== 'checkpoint,hashes,logIndex,rootHash,treeSize')
    fail('unexpected inclusionProof fields');
  const cp = verifyCheckpointNote(ip.checkpoint, ctx.key, ctx.hostname);
  if (cp.origin !== `${ctx.hostname} - ${ctx.treeId}`)
    fail(`checkpoint origin ${cp.origin} is not "<hostname> - <treeID>"`);
  if (ip.treeSize !== cp.size) fail('inclusionProof.treeSize differs from the checkpoint size');
  if (ip.rootHash !== cp.rootHash.toString('hex'))
    fail('inclusionProof.rootHash differs from the checkpoint root');
  if (opts.sharded ? ip.logIndex > e.logIndex : ip.logIndex !== e.logIndex) {
    fail('inclusionProof.logIndex differs from logIndex (one shard)');
  }
  if (!Array.isArray(ip.hashes)) fail('hashes is not an array');
  const hashes = (ip.hashes as unknown[]).map((h) => {
    if (typeof h !== 'string' || !HEX64.test(h)) fail('proof hash is not 64 lowercase hex');
    return Buffer.from(h, 'hex');
  });
  verifyInclusion(leaf, ip.logIndex, cp.size, hashes, cp.rootHash);
  return {
    entryId,
    leafHash: leaf,
    body,
    logIndex: e.logIndex,
    integratedTime: e.integratedTime,
    checkpoint: cp,
    hashes,
  };
}

/** LogInfo (spec §2.5): a decimal treeID string and a signed checkpoint describing the same root. */
export function verifyLogInfo(info: any, ctx: LogContext): ParsedCheckpoint {
  if (typeof info !== 'object' || info === null) fail('LogInfo is not an object');
  if (info.treeID !== ctx.treeId || typeof info.treeID !== 'string')
    fail('treeID is not the decimal tree id string');
  const cp = verifyCheckpointNote(info.signedTreeHead, ctx.key, ctx.hostname);
  if (cp.origin !== `${ctx.hostname} - ${ctx.treeId}`) fail('checkpoint origin mismatch');
  if (info.treeSize !== cp.size) fail('treeSize differs from the checkpoint');
  if (info.rootHash !== cp.rootHash.toString('hex')) fail('rootHash differs from the checkpoint');
  if (
    info.inactiveShards !== undefined &&
    info.inactiveShards !== null &&
    !(Array.isArray(info.inactiveShards) && info.inactiveShards.length === 0)
  ) {
    fail('unexpected inactive shards');
  }
  return cp;
}
