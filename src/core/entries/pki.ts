/**
 * Artifact keys and certificates as Rekor's `pkg/pki/x509` sees them: a PEM text holding one
 * PUBLIC KEY, one CERTIFICATE, or a chain of up to 10 CERTIFICATEs (leaf first).
 *
 * Everything parsed here comes from the submitter. The rules that matter for the log:
 *  - keys are re-encoded canonically (Go `x509.MarshalPKIXPublicKey`): a DER that does not
 *    round-trip byte for byte is refused, so one key has exactly one canonical PEM and one
 *    index hash, whatever the client sent;
 *  - certificates are kept byte for byte (Go re-emits `cert.Raw`), but bytes after the
 *    certificate are refused;
 *  - certificate validity is never compared with a clock (Rekor does not check expiry); a chain is
 *    verified leaf to root at the leaf's NotBefore, which needs no clock either.
 * Failures throw PkiError with Go's wording; callers add their own prefix and error code.
 */
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { pemDecodeAll, pemEncode } from '../encoding';
import { p256, p384, p521 } from '@noble/curves/nist';
import {
  DerError,
  children,
  encodeLength,
  encodeSequence,
  encodeUnsignedInteger,
  expectTag,
  oidToString,
  readInteger,
  readTlv,
  type Tlv,
} from './der';

export class PkiError extends Error {}

export type KeyAlgorithm = 'ecdsa' | 'rsa' | 'ed25519';
export type EcCurve = 'P-256' | 'P-384' | 'P-521';

/** A parsed, canonicalized public key that a SignatureVerifier can check signatures with. */
export interface ArtifactKey {
  readonly algorithm: KeyAlgorithm;
  /** Set for ECDSA keys only. */
  readonly curve?: EcCurve;
  /** RSA modulus bits; curve field bits for ECDSA (256/384/521); 256 for Ed25519. */
  readonly bits: number;
  /** Canonical DER SubjectPublicKeyInfo (Go `MarshalPKIXPublicKey` form). */
  readonly spki: Buffer;
  /** ECDSA: uncompressed SEC1 point 04||X||Y. Ed25519: the 32-byte key. RSA: modulus, big-endian. */
  readonly publicBytes: Buffer;
  /** RSA public exponent, big-endian; undefined for other algorithms. */
  readonly rsaExponent?: Buffer;
  /** node:crypto handle for the same key, created lazily on first access. */
  readonly keyObject: KeyObject;
}

/** What a `publicKey.content` / DSSE verifier decodes to. */
export interface VerificationMaterial {
  /** The key signatures are checked with: the bare key, or the leaf certificate's key. */
  readonly key: ArtifactKey;
  /** DER certificates, leaf first; empty for a bare public key. */
  readonly certificates: readonly Buffer[];
  /** Go-style PEM of the key or of every certificate (what the canonical body stores). */
  readonly canonicalPem: string;
  /** Leaf certificate SANs in Go's order (DNS, email, IP, URI, Fulcio OtherName); not lowercased. */
  readonly subjects: readonly string[];
}

export const MAX_CHAIN_CERTIFICATES = 10;
const MIN_RSA_BITS = 1024;
// Bounds the cost of one verification (hostile keys are free to submit).
const MAX_RSA_BITS = 8192;

const EC_SPKI_PREFIX: Readonly<Record<EcCurve, Buffer>> = {
  'P-256': Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
  'P-384': Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'),
  'P-521': Buffer.from('30819b301006072a8648ce3d020106052b8104002303818600', 'hex'),
};
const EC_FIELD_BYTES: Readonly<Record<EcCurve, number>> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };
const EC_FIELD_BITS: Readonly<Record<EcCurve, number>> = { 'P-256': 256, 'P-384': 384, 'P-521': 521 };
const EC_CURVE_OIDS: Readonly<Record<string, EcCurve>> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
};
const NOBLE_CURVES = { 'P-256': p256, 'P-384': p384, 'P-521': p521 } as const;
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const OID_ED25519 = '1.3.101.112';
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const RSA_ALGORITHM_ID = Buffer.from('300d06092a864886f70d0101010500', 'hex');

function stripLeadingZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function bitLength(b: Buffer): number {
  const m = stripLeadingZeros(b);
  if (m.length === 0 || (m.length === 1 && m[0] === 0)) return 0;
  return (m.length - 1) * 8 + (32 - Math.clz32(m[0]!));
}

const failedToParse = (): PkiError => new PkiError('x509: failed to parse public key');

/** The content of a BIT STRING with no unused bits (all SPKI key encodings are whole bytes). */
function bitStringBytes(der: Buffer, t: Tlv): Buffer {
  if (t.tag !== 0x03 || t.end === t.start || der[t.start] !== 0) throw failedToParse();
  return der.subarray(t.start + 1, t.end);
}

/**
 * node:crypto's handle for a key, created on first use only: OpenSSL 3.0's generic key decoder
 * costs more than a signature check (~100-250 us), and the fast paths never need it.
 */
function withLazyKeyObject(key: Omit<ArtifactKey, 'keyObject'>): ArtifactKey {
  let cached: KeyObject | undefined;
  return Object.defineProperty({ ...key }, 'keyObject', {
    enumerable: false,
    get(): KeyObject {
      if (cached === undefined) {
        // JWK import skips the decoder for RSA and Ed25519 (~7 us); EC goes through DER.
        if (key.algorithm === 'rsa') {
          cached = createPublicKey({
            key: {
              kty: 'RSA',
              n: key.publicBytes.toString('base64url'),
              e: key.rsaExponent!.toString('base64url'),
            },
            format: 'jwk',
          });
        } else if (key.algorithm === 'ed25519') {
          cached = createPublicKey({
            key: { kty: 'OKP', crv: 'Ed25519', x: key.publicBytes.toString('base64url') },
            format: 'jwk',
          });
        } else {
          cached = createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
        }
      }
      return cached;
    },
  }) as ArtifactKey;
}

/**
 * Parses a DER SubjectPublicKeyInfo like Go's `x509.ParsePKIXPublicKey`, restricted to what
 * Rekor can verify (RSA, ECDSA on P-256/384/521, Ed25519), and only in its unique DER encoding:
 * compressed points, explicit curve parameters, missing RSA NULL parameters, BER lengths and
 * trailing bytes are all refused, so the re-encoded key is byte-identical to the input.
 */
export function parseSpki(der: Buffer): ArtifactKey {
  let algOid: string;
  let params: Tlv | undefined;
  let keyBits: Buffer;
  try {
    const spki = expectTag(readTlv(der, 0), 0x30, 'SubjectPublicKeyInfo');
    if (spki.next !== der.length) throw failedToParse();
    const [algId, bits, ...rest] = children(der, spki);
    if (rest.length > 0 || bits === undefined) throw failedToParse();
    const algParts = children(der, expectTag(algId, 0x30, 'AlgorithmIdentifier'));
    if (algParts.length > 2) throw failedToParse();
    algOid = oidToString(der, expectTag(algParts[0], 0x06, 'OID'));
    params = algParts[1];
    keyBits = bitStringBytes(der, bits);
  } catch (e) {
    if (e instanceof DerError) throw failedToParse();
    throw e;
  }

  let key: Omit<ArtifactKey, 'keyObject'>;
  if (algOid === OID_EC_PUBLIC_KEY) {
    let curve: EcCurve | undefined;
    try {
      curve = params?.tag === 0x06 ? EC_CURVE_OIDS[oidToString(der, params)] : undefined;
    } catch {
      curve = undefined;
    }
    if (curve === undefined) throw new PkiError('x509: unsupported elliptic curve');
    const size = EC_FIELD_BYTES[curve];
    if (keyBits.length !== 1 + 2 * size || keyBits[0] !== 0x04) throw failedToParse();
    try {
      NOBLE_CURVES[curve].ProjectivePoint.fromHex(keyBits).assertValidity();
    } catch {
      throw new PkiError('x509: invalid elliptic curve public key');
    }
    const publicBytes = Buffer.from(keyBits);
    key = {
      algorithm: 'ecdsa',
      curve,
      bits: EC_FIELD_BITS[curve],
      spki: Buffer.concat([EC_SPKI_PREFIX[curve], publicBytes]),
      publicBytes,
    };
  } else if (algOid === OID_ED25519) {
    if (params !== undefined || keyBits.length !== 32) throw failedToParse();
    const publicBytes = Buffer.from(keyBits);
    key = {
      algorithm: 'ed25519',
      bits: 256,
      spki: Buffer.concat([ED25519_SPKI_PREFIX, publicBytes]),
      publicBytes,
    };
  } else if (algOid === OID_RSA_ENCRYPTION) {
    let n: ReturnType<typeof readInteger>;
    let e: ReturnType<typeof readInteger>;
    try {
      const rsaKey = expectTag(readTlv(keyBits, 0), 0x30, 'RSAPublicKey');
      if (rsaKey.next !== keyBits.length) throw failedToParse();
      const parts = children(keyBits, rsaKey);
      if (parts.length !== 2) throw failedToParse();
      n = readInteger(keyBits, parts[0]!);
      e = readInteger(keyBits, parts[1]!);
    } catch (err) {
      if (err instanceof DerError) throw failedToParse();
      throw err;
    }
    if (n.negative || e.negative) throw new PkiError('x509: RSA key is not a positive number');
    const modulus = stripLeadingZeros(Buffer.from(n.magnitude));
    const exponent = stripLeadingZeros(Buffer.from(e.magnitude));
    const bits = bitLength(modulus);
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS)
      throw new PkiError(`x509: unsupported RSA key size ${bits}`);
    const eBits = bitLength(exponent);
    // Go's crypto/rsa refuses e < 2 and e >= 2^31; an even exponent is never valid RSA.
    if (eBits < 2 || eBits > 31 || (exponent[exponent.length - 1]! & 1) === 0) {
      throw new PkiError('x509: unsupported RSA public exponent');
    }
    // RSA_ALGORITHM_ID carries the NULL parameters Go requires and re-emits.
    const spki = encodeSequence(
      RSA_ALGORITHM_ID,
      encodeBitString(encodeSequence(encodeUnsignedInteger(modulus), encodeUnsignedInteger(exponent))),
    );
    key = { algorithm: 'rsa', bits, spki, publicBytes: modulus, rsaExponent: exponent };
  } else {
    throw new PkiError('x509: unknown public key algorithm');
  }
  if (!key.spki.equals(der)) throw failedToParse();
  return withLazyKeyObject(key);
}

function encodeBitString(content: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from([0]), content]);
  return Buffer.concat([Buffer.from([0x03]), encodeLength(body.length), body]);
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

const OID_SAN = '2.5.29.17';
// Fulcio's username OtherName (sigstore cryptoutils.OIDOtherName).
const OID_FULCIO_OTHERNAME = '1.3.6.1.4.1.57264.1.7';

interface ParsedCertificate {
  readonly der: Buffer;
  readonly x509: X509Certificate;
  readonly spki: Buffer;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subjects: string[];
}

function parseTime(buf: Buffer, t: Tlv): number {
  const s = buf.subarray(t.start, t.end).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === 0x17) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw new DerError('bad UTCTime');
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === 0x18) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw new DerError('bad GeneralizedTime');
    year = Number(m[1]);
  } else {
    throw new DerError('expected Time');
  }
  const ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (!Number.isFinite(ms)) throw new DerError('bad time');
  return ms;
}

function isIa5(b: Buffer): boolean {
  for (const c of b) if (c > 0x7f) return false;
  return true;
}

/** Go `net.IP.String()` for 4- and 16-byte addresses. */
function formatIp(b: Buffer): string {
  if (b.length === 4) return Array.from(b).join('.');
  const isV4Mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (isV4Mapped) return Array.from(b.subarray(12)).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  // Longest run of zero groups (length >= 2, first wins) becomes "::" (RFC 5952, as Go does).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

function parseSans(buf: Buffer, extnValue: Tlv): string[] {
  const seq = expectTag(readTlv(buf, extnValue.start, extnValue.end), 0x30, 'GeneralNames');
  if (seq.next !== extnValue.end) throw new DerError('trailing data in SAN');
  const dns: string[] = [];
  const emails: string[] = [];
  const ips: string[] = [];
  const uris: string[] = [];
  const otherNames: string[] = [];
  let otherNameOk = true;
  for (const gn of children(buf, seq)) {
    const value = buf.subarray(gn.start, gn.end);
    switch (gn.tag) {
      case 0x81:
      case 0x82:
      case 0x86: {
        // Go's x509 parser rejects the whole certificate for non-IA5 names.
        const kind =
          gn.tag === 0x81 ? 'rfc822Name' : gn.tag === 0x82 ? 'dNSName' : 'uniformResourceIdentifier';
        if (!isIa5(value)) throw new PkiError(`x509: SAN ${kind} is malformed`);
        (gn.tag === 0x81 ? emails : gn.tag === 0x82 ? dns : uris).push(value.toString('latin1'));
        break;
      }
      case 0x87:
        if (value.length !== 4 && value.length !== 16) {
          throw new PkiError(`x509: cannot parse IP address of length ${value.length}`);
        }
        ips.push(formatIp(value));
        break;
      case 0xa0: {
        // sigstore's UnmarshalOtherNameSAN: exactly one OtherName, with Fulcio's OID and a
        // UTF8String; anything else means no OtherName subject at all.
        try {
          const parts = children(buf, gn);
          const oid = oidToString(buf, expectTag(parts[0], 0x06, 'OID'));
          const explicit = expectTag(parts[1], 0xa0, '[0]');
          const inner = children(buf, explicit);
          const str = expectTag(inner[0], 0x0c, 'UTF8String');
          if (parts.length !== 2 || inner.length !== 1 || oid !== OID_FULCIO_OTHERNAME) otherNameOk = false;
          else otherNames.push(buf.subarray(str.start, str.end).toString('utf8'));
        } catch (e) {
          if (!(e instanceof DerError)) throw e;
          otherNameOk = false;
        }
        break;
      }
      default:
        break;
    }
  }
  const out = [...dns, ...emails, ...ips, ...uris];
  if (otherNameOk && otherNames.length === 1) out.push(otherNames[0]!);
  return out;
}

function parseCertificate(der: Buffer): ParsedCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    throw new PkiError('x509: malformed certificate');
  }
  // OpenSSL ignores bytes after the certificate; Go reports "x509: trailing data".
  if (!x509.raw.equals(der)) throw new PkiError('x509: trailing data');
  try {
    const cert = expectTag(readTlv(der, 0), 0x30, 'Certificate');
    const tbs = expectTag(children(der, cert)[0], 0x30, 'TBSCertificate');
    const f = children(der, tbs);
    let i = 0;
    if (f[i]?.tag === 0xa0) i++; // version
    i += 3; // serialNumber, signature, issuer
    const validity = children(der, expectTag(f[i++], 0x30, 'Validity'));
    if (validity.length !== 2) throw new DerError('bad Validity');
    const notBefore = parseTime(der, validity[0]!);
    const notAfter = parseTime(der, validity[1]!);
    i++; // subject
    const spkiTlv = expectTag(f[i++], 0x30, 'SubjectPublicKeyInfo');
    const spki = der.subarray(spkiTlv.headerStart, spkiTlv.next);
    let subjects: string[] = [];
    for (; i < f.length; i++) {
      if (f[i]!.tag !== 0xa3) continue;
      const exts = expectTag(children(der, f[i]!)[0], 0x30, 'Extensions');
      for (const ext of children(der, exts)) {
        const parts = children(der, expectTag(ext, 0x30, 'Extension'));
        if (oidToString(der, expectTag(parts[0], 0x06, 'OID')) !== OID_SAN) continue;
        subjects = parseSans(der, expectTag(parts[parts.length - 1], 0x04, 'OCTET STRING'));
      }
    }
    return { der, x509, spki: Buffer.from(spki), notBefore, notAfter, subjects };
  } catch (e) {
    if (e instanceof DerError) throw new PkiError('x509: malformed certificate');
    throw e;
  }
}

/**
 * Go `cert.Verify` with Roots = {last}, Intermediates = the middle certificates, any key usage,
 * at the leaf's NotBefore: a path must lead from the leaf to the root through CA certificates
 * whose signatures check and whose validity covers that instant.
 */
function verifyChain(certs: readonly ParsedCertificate[]): void {
  if (certs.length < 2) return;
  const leaf = certs[0]!;
  const root = certs[certs.length - 1]!;
  const intermediates = certs.slice(1, -1);
  const at = leaf.notBefore;
  const usable = (c: ParsedCertificate): boolean => c.x509.ca && c.notBefore <= at && at <= c.notAfter;
  const signedBy = (child: ParsedCertificate, parent: ParsedCertificate): boolean => {
    try {
      return child.x509.checkIssued(parent.x509) && child.x509.verify(parent.x509.publicKey);
    } catch {
      return false;
    }
  };
  const search = (c: ParsedCertificate, path: Set<ParsedCertificate>): boolean => {
    if (usable(root) && signedBy(c, root)) return true;
    for (const p of intermediates) {
      if (path.has(p) || !usable(p) || !signedBy(c, p)) continue;
      path.add(p);
      if (search(p, path)) return true;
      path.delete(p);
    }
    return false;
  };
  if (leaf.der.equals(root.der)) return;
  if (!search(leaf, new Set([leaf]))) throw new PkiError('x509: certificate signed by unknown authority');
}

/**
 * Parses the PEM text of a hashedrekord `publicKey.content` or a DSSE/intoto verifier, like Go's
 * `x509.NewPublicKey` (surrounding whitespace trimmed; more than one block means a chain).
 * With `checkChain`, a multi-certificate chain must verify (see verifyChain).
 */
export function parseVerificationMaterial(pemBytes: Buffer, checkChain: boolean): VerificationMaterial {
  let blocks: Array<{ type: string; der: Buffer }>;
  try {
    // latin1 keeps one character per byte, so non-ASCII bytes fail the PEM grammar instead of
    // being rewritten to U+FFFD first.
    blocks = pemDecodeAll(pemBytes.toString('latin1'));
  } catch {
    throw new PkiError('invalid public key: failure decoding PEM');
  }
  if (blocks.length === 1 && blocks[0]!.type === 'PUBLIC KEY') {
    const key = parseSpki(blocks[0]!.der);
    return { key, certificates: [], canonicalPem: pemEncode('PUBLIC KEY', key.spki), subjects: [] };
  }
  if (blocks.length === 1 && blocks[0]!.type !== 'CERTIFICATE') {
    throw new PkiError(`invalid public key: cannot handle type ${blocks[0]!.type}`);
  }
  if (blocks.length > MAX_CHAIN_CERTIFICATES)
    throw new PkiError('too many certificates specified in PEM block');
  const certs = blocks.map((b) => {
    if (b.type !== 'CERTIFICATE') throw new PkiError('x509: malformed certificate');
    return parseCertificate(b.der);
  });
  const key = parseSpki(certs[0]!.spki);
  if (checkChain) verifyChain(certs);
  return {
    key,
    certificates: certs.map((c) => c.der),
    canonicalPem: certs.map((c) => pemEncode('CERTIFICATE', c.der)).join(''),
    subjects: certs[0]!.subjects,
  };
}
