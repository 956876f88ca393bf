/**
 * Deterministic ECDSA on P-256 with SHA-256 (RFC 6979 section 3.2 nonces, low-S, DER), with the
 * one expensive step, the nonce times the base point, done by OpenSSL: an ECDH key whose private
 * half is the nonce has that point as its public half. The nonce and the signature equation are
 * the RFC's; the output is byte-identical to @noble/curves `p256.sign(data, d, { prehash: true,
 * lowS: true })`, which the tests compare it with, at about a sixth of the cost.
 */
import { createECDH, createHash, createHmac } from 'node:crypto';

/** The order of the P-256 base point (SEC 2 / FIPS 186-4). */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_N = N >> 1n;
const BYTES = 32;
/** Reused across signatures (creating one costs about as much as the multiplication). */
const ecdh = createECDH('prime256v1');

function toInt(b: Uint8Array): bigint {
  return BigInt(
    '0x' + (b.length === 0 ? '0' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')),
  );
}

function toBytes(x: bigint): Buffer {
  return Buffer.from(x.toString(16).padStart(BYTES * 2, '0'), 'hex');
}

function mod(a: bigint): bigint {
  const r = a % N;
  return r >= 0n ? r : r + N;
}

/** a^-1 mod N by the extended Euclidean algorithm (N is prime, 0 < a < N). */
function invert(a: bigint): bigint {
  let r0 = N;
  let r1 = a;
  let t0 = 0n;
  let t1 = 1n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    const r2 = r0 - q * r1;
    r0 = r1;
    r1 = r2;
    const t2 = t0 - q * t1;
    t0 = t1;
    t1 = t2;
  }
  return mod(t0);
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** A minimal DER INTEGER of a positive value below 2^256. */
function derInteger(x: bigint): Buffer {
  let b = toBytes(x);
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}

/** The raw (r, s) of the signature, s not yet folded to the low half (for the RFC's test vectors). */
export function rfc6979P256Scalars(
  secret: Uint8Array,
  data: Uint8Array,
): { k: bigint; r: bigint; s: bigint } {
  if (secret.length !== BYTES) throw new Error('a P-256 private key is 32 bytes');
  const d = toInt(secret);
  if (d <= 0n || d >= N) throw new Error('private key out of range');
  const h1 = createHash('sha256').update(data).digest();
  // qlen = hlen = 256: bits2int is the plain integer; bits2octets reduces it mod N once.
  const z = mod(toInt(h1));
  const x = toBytes(d);
  const h = toBytes(z);
  let v: Buffer = Buffer.alloc(BYTES, 0x01);
  let key: Buffer = Buffer.alloc(BYTES, 0x00);
  key = hmac(key, v, Buffer.from([0x00]), x, h);
  v = hmac(key, v);
  key = hmac(key, v, Buffer.from([0x01]), x, h);
  v = hmac(key, v);
  for (;;) {
    v = hmac(key, v);
    const k = toInt(v);
    if (k >= 1n && k < N) {
      ecdh.setPrivateKey(v);
      // Uncompressed point 04 || X || Y; r is X reduced mod N.
      const r = mod(toInt(ecdh.getPublicKey().subarray(1, 1 + BYTES)));
      if (r !== 0n) {
        const s = mod(invert(k) * mod(z + r * d));
        if (s !== 0n) return { k, r, s };
      }
    }
    key = hmac(key, v, Buffer.from([0x00]));
    v = hmac(key, v);
  }
}

/** RFC 6979 ECDSA P-256/SHA-256 over `data` (hashed here), low-S, DER-encoded. */
export function signP256Deterministic(secret: Uint8Array, data: Uint8Array): Buffer {
  const { r, s } = rfc6979P256Scalars(secret, data);
  const body = Buffer.concat([derInteger(r), derInteger(s > HALF_N ? N - s : s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}
