/**
 * The log's own keys: ECDSA P-256 (what Sigstore trusted roots carry) or Ed25519.
 *
 * node:crypto (OpenSSL) does the per-entry work (SET signing, verification) because it is ~25x
 * faster than pure JS. @noble/curves provides RFC 6979 deterministic ECDSA for checkpoints, so a
 * crash-and-resign of the same tree head yields the same bytes, and serves as the reference the
 * OpenSSL path is tested against.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { p256 } from '@noble/curves/p256';
import { ed25519 } from '@noble/curves/ed25519';
import { VellumError } from './errors';
import { pemDecodeAll, pemEncode } from './encoding';
import { signP256Deterministic } from './rfc6979';

export type LogKeyAlgorithm = 'ecdsa-p256' | 'ed25519';

function keyError(message: string): never {
  throw new VellumError('INVALID_KEY', message);
}

function algorithmOf(key: KeyObject): LogKeyAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ecdsa-p256';
    keyError(`unsupported EC curve ${curve ?? 'unknown'}; only P-256 is supported`);
  }
  keyError(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}; expected ECDSA P-256 or Ed25519`);
}

function b64url(s: string | undefined, what: string): Buffer {
  if (typeof s !== 'string') keyError(`key export is missing ${what}`);
  return Buffer.from(s, 'base64url');
}

/** Raw public key bytes: the 65-byte uncompressed SEC1 point for P-256, 32 bytes for Ed25519. */
function rawPublicKey(key: KeyObject, algorithm: LogKeyAlgorithm): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (algorithm === 'ed25519') return b64url(jwk.x, 'x');
  return Buffer.concat([Buffer.from([0x04]), b64url(jwk.x, 'x'), b64url(jwk.y, 'y')]);
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export class LogPublicKey {
  readonly algorithm: LogKeyAlgorithm;
  /** DER SubjectPublicKeyInfo (canonical: uncompressed point). */
  readonly der: Buffer;
  readonly pem: string;
  /** SHA-256(der): Rekor's logID. */
  readonly logId: Buffer;
  readonly logIdHex: string;
  /** Raw key bytes for formats that carry them (C2SP Ed25519 key IDs, noble verification). */
  readonly raw: Buffer;
  readonly #key: KeyObject;

  private constructor(key: KeyObject) {
    this.#key = key;
    this.algorithm = algorithmOf(key);
    this.der = key.export({ type: 'spki', format: 'der' });
    this.pem = pemEncode('PUBLIC KEY', this.der);
    this.logId = createHash('sha256').update(this.der).digest();
    this.logIdHex = this.logId.toString('hex');
    this.raw = rawPublicKey(key, this.algorithm);
  }

  /** Exactly one "PUBLIC KEY" block (PKIX SPKI). */
  static fromPem(pem: string): LogPublicKey {
    let blocks;
    try {
      blocks = pemDecodeAll(pem);
    } catch (e) {
      keyError(`public key PEM: ${(e as Error).message}`);
    }
    if (blocks.length !== 1 || blocks[0]!.type !== 'PUBLIC KEY') {
      keyError('expected exactly one "PUBLIC KEY" PEM block');
    }
    return LogPublicKey.fromDer(blocks[0]!.der);
  }

  /**
   * Only the canonical encoding is accepted (uncompressed point, nothing trailing; OpenSSL would
   * silently accept both), so `logId` is the hash of exactly the bytes that came in and equals
   * what Go clients compute.
   */
  static fromDer(der: Uint8Array): LogPublicKey {
    const input = toBuffer(der);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: input, format: 'der', type: 'spki' });
    } catch (e) {
      keyError(`cannot parse SubjectPublicKeyInfo: ${(e as Error).message}`);
    }
    const pk = new LogPublicKey(key);
    if (!pk.der.equals(input)) keyError('SubjectPublicKeyInfo is not in canonical DER form (trailing data?)');
    // OpenSSL keeps a compressed point compressed, but Go (Rekor, sigstore-go) re-encodes keys
    // uncompressed before hashing, so a compressed key would get a logID no client computes.
    if (pk.algorithm === 'ecdsa-p256' && pk.der.length !== 91)
      keyError('P-256 key must use an uncompressed point');
    return pk;
  }

  /** @internal wraps a KeyObject already derived from a validated private key. */
  static fromKeyObject(key: KeyObject): LogPublicKey {
    if (key.type !== 'public') keyError('expected a public key object');
    return new LogPublicKey(key);
  }

  /**
   * ECDSA: DER signature over SHA-256(data), high-S accepted (Go and OpenSSL signers do not
   * normalise S). Ed25519: pure. Malformed signatures are `false`, never an exception.
   */
  verify(data: Uint8Array, signature: Uint8Array): boolean {
    try {
      if (this.algorithm === 'ed25519') return cryptoVerify(null, data, this.#key, signature);
      return cryptoVerify('sha256', data, { key: this.#key, dsaEncoding: 'der' }, signature);
    } catch {
      return false;
    }
  }

  /** The same check with @noble/curves; the reference the OpenSSL path is tested against. */
  verifyPortable(data: Uint8Array, signature: Uint8Array): boolean {
    try {
      if (this.algorithm === 'ed25519') return ed25519.verify(signature, data, this.raw, { zip215: false });
      return p256.verify(signature, data, this.raw, { prehash: true, lowS: false, format: 'der' });
    } catch {
      return false;
    }
  }
}

export class LogSigningKey {
  readonly algorithm: LogKeyAlgorithm;
  readonly publicKey: LogPublicKey;
  readonly #key: KeyObject;
  /** P-256 scalar (32 bytes) or Ed25519 seed (32 bytes), for @noble/curves. */
  readonly #secret: Uint8Array;

  private constructor(key: KeyObject) {
    this.#key = key;
    this.algorithm = algorithmOf(key);
    this.publicKey = LogPublicKey.fromKeyObject(createPublicKey(key));
    this.#secret = b64url(key.export({ format: 'jwk' }).d, 'd');
    if (this.#secret.length !== 32) keyError('unexpected private key length');
  }

  static generate(algorithm: LogKeyAlgorithm = 'ecdsa-p256'): LogSigningKey {
    if (algorithm === 'ed25519') return new LogSigningKey(generateKeyPairSync('ed25519').privateKey);
    if (algorithm === 'ecdsa-p256') {
      return new LogSigningKey(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    }
    keyError(`unknown key algorithm ${String(algorithm)}`);
  }

  /**
   * Exactly one block: PKCS#8 "PRIVATE KEY" (P-256 or Ed25519) or SEC1 "EC PRIVATE KEY" (P-256).
   * Encrypted keys are refused; decrypting is the caller's business, not the core's.
   */
  static fromPem(pem: string): LogSigningKey {
    let blocks;
    try {
      blocks = pemDecodeAll(pem);
    } catch (e) {
      keyError(`private key PEM: ${(e as Error).message}`);
    }
    // OpenSSL's `ecparam -genkey` writes an "EC PARAMETERS" block before the key; it adds nothing.
    const keyBlocks = blocks.filter((b) => b.type !== 'EC PARAMETERS');
    if (keyBlocks.length !== 1) keyError('expected exactly one private key PEM block');
    const { type, der } = keyBlocks[0]!;
    let format: 'pkcs8' | 'sec1';
    if (type === 'PRIVATE KEY') format = 'pkcs8';
    else if (type === 'EC PRIVATE KEY') format = 'sec1';
    else keyError(`unsupported private key PEM type "${type}"`);
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: der, format: 'der', type: format });
    } catch (e) {
      keyError(`cannot parse ${type}: ${(e as Error).message}`);
    }
    if (format === 'sec1' && key.asymmetricKeyType !== 'ec') keyError('EC PRIVATE KEY is not an EC key');
    return new LogSigningKey(key);
  }

  toPkcs8Pem(): string {
    return pemEncode('PRIVATE KEY', this.#key.export({ type: 'pkcs8', format: 'der' }));
  }

  /** OpenSSL; randomised ECDSA (DER, over SHA-256(data)) or Ed25519. One per entry (SETs). */
  sign(data: Uint8Array): Buffer {
    if (this.algorithm === 'ed25519') return cryptoSign(null, data, this.#key);
    return cryptoSign('sha256', data, { key: this.#key, dsaEncoding: 'der' });
  }

  /**
   * RFC 6979 ECDSA (DER, low-S; rfc6979.ts, the same bytes as @noble/curves), or Ed25519
   * (deterministic by definition, so OpenSSL's output is byte-identical to noble's and ~20x
   * faster). Used for checkpoints.
   */
  signDeterministic(data: Uint8Array): Buffer {
    if (this.algorithm === 'ed25519') return cryptoSign(null, data, this.#key);
    return signP256Deterministic(this.#secret, data);
  }
}
