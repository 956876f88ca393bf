/**
 * X.509 certificates (RFC 5280 section 4.1) read with the one strict DER reader. The whole
 * encoding must be DER down to its last constructed element; the TBSCertificate fields must come
 * in RFC 5280's order with RFC 5280's types; the version is v1-v3; serial numbers and BOOLEANs are
 * minimal DER; times are UTCTime/GeneralizedTime with seconds and `Z`. Duplicated extension OIDs
 * are kept (RFC 5280 forbids them; callers decide what that means: Go refuses the certificate, the
 * monitor marks every copy unknown). Nothing is compared with a clock and no signature is checked
 * here (see chain.ts). Every failure is a VellumError INVALID_DER.
 */
import {
  TAG,
  checkDerTree,
  checkDerValue,
  children,
  content,
  decodeUtf8Strict,
  derError,
  expectTag,
  readBoolean,
  readInteger,
  readOid,
  readTime,
  readTlv,
  whole,
  type Tlv,
} from '../asn1';

export interface Extension {
  /** Dotted OID. */
  readonly oid: string;
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content (the extension's own DER, or Fulcio's raw bytes). */
  readonly value: Buffer;
}

export interface Certificate {
  /** The whole certificate, byte for byte as given. */
  readonly der: Buffer;
  /** The signed TBSCertificate encoding. */
  readonly tbs: Buffer;
  /** 1, 2 or 3. */
  readonly version: number;
  /** Serial number magnitude, big-endian without a sign byte; `serialNegative` tells the sign. */
  readonly serial: Buffer;
  readonly serialNegative: boolean;
  /** Dotted OID of the outer signatureAlgorithm (equal to the TBS copy, or the parse fails). */
  readonly signatureAlgorithm: string;
  /** The outer AlgorithmIdentifier encoding, parameters included. */
  readonly signatureAlgorithmDer: Buffer;
  /** BIT STRING content after the unused-bits byte. */
  readonly signature: Buffer;
  /** DER Name encodings, byte for byte. */
  readonly issuer: Buffer;
  readonly subject: Buffer;
  /** Validity in milliseconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** The SubjectPublicKeyInfo encoding (any algorithm; see spki.ts for the ones keys may use). */
  readonly spki: Buffer;
  readonly extensions: readonly Extension[];
}

function bitStringBytes(buf: Buffer, t: Tlv, what: string): Buffer {
  expectTag(t, TAG.BIT_STRING, what);
  if (t.end === t.start || buf[t.start] !== 0) throw derError(`${what}: unused bits`);
  return content(buf, { ...t, start: t.start + 1 });
}

/**
 * SEQUENCE { algorithm OID, parameters ANY OPTIONAL }: the OID. The parameters must be DER down to
 * their universal contents (a named curve's OID, RSA's NULL): OpenSSL decodes the ANY while it
 * parses the certificate and refuses one that breaks them.
 */
function algorithmOid(buf: Buffer, t: Tlv | undefined, what: string): string {
  const parts = children(buf, expectTag(t, TAG.SEQUENCE, what));
  if (parts.length < 1 || parts.length > 2) throw derError(`${what}: wrong number of fields`);
  if (parts[1] !== undefined) checkDerValue(buf, parts[1]);
  return readOid(buf, expectTag(parts[0], TAG.OID, `${what} algorithm`));
}

/** RFC 5280's DirectoryString: UTF8String, PrintableString, TeletexString, UniversalString, BMPString. */
export const DIRECTORY_STRING_TAGS: ReadonlySet<number> = new Set([0x0c, 0x13, 0x14, 0x1c, 0x1e]);

/**
 * Universal string types a Name attribute value may have: DirectoryString plus Numeric and IA5,
 * the set OpenSSL decodes names with.
 */
const NAME_STRING_TAGS: ReadonlySet<number> = new Set([...DIRECTORY_STRING_TAGS, 0x12, 0x16]);

/**
 * A string value of one of `tags`, primitive, whose characters are whole: UTF-8 that decodes,
 * BMPString in 2-byte and UniversalString in 4-byte units (OpenSSL converts every name to UTF-8
 * when it parses one, refusing what cannot be).
 */
export function checkStringValue(buf: Buffer, value: Tlv, tags: ReadonlySet<number>, what: string): void {
  if (!tags.has(value.tag)) throw derError(`${what}: not a string type`);
  const len = value.end - value.start;
  if (value.tag === TAG.UTF8_STRING) decodeUtf8Strict(content(buf, value), what);
  if ((value.tag === 0x1e && len % 2 !== 0) || (value.tag === 0x1c && len % 4 !== 0))
    throw derError(`${what}: truncated character`);
}

/** Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value string }. */
export function checkName(buf: Buffer, t: Tlv | undefined, what: string): Tlv {
  const name = expectTag(t, TAG.SEQUENCE, what);
  for (const rdn of children(buf, name)) {
    const attrs = children(buf, expectTag(rdn, TAG.SET, `${what} RelativeDistinguishedName`));
    if (attrs.length === 0) throw derError(`${what}: empty RelativeDistinguishedName`);
    for (const attr of attrs) {
      const [type, value, ...rest] = children(buf, expectTag(attr, TAG.SEQUENCE, `${what} attribute`));
      if (rest.length > 0 || value === undefined) throw derError(`${what} attribute: wrong number of fields`);
      readOid(buf, expectTag(type, TAG.OID, `${what} attribute type`));
      checkStringValue(buf, value, NAME_STRING_TAGS, `${what} attribute value`);
    }
  }
  return name;
}

function checkSpkiOutline(buf: Buffer, spki: Tlv): void {
  const parts = children(buf, expectTag(spki, TAG.SEQUENCE, 'subjectPublicKeyInfo'));
  if (parts.length !== 2) throw derError('subjectPublicKeyInfo: wrong number of fields');
  algorithmOid(buf, parts[0], 'subjectPublicKeyInfo algorithm');
  bitStringBytes(buf, parts[1]!, 'subjectPublicKey');
}

/**
 * Checks that `der` is exactly a SubjectPublicKeyInfo of any algorithm (SEQUENCE { AlgorithmIdentifier,
 * BIT STRING }), without judging the key: the monitor fingerprints keys it could not verify with.
 */
export function checkSpkiStructure(der: Buffer): void {
  checkSpkiOutline(der, checkDerTree(der));
}

function readExtensions(buf: Buffer, wrapper: Tlv): Extension[] {
  const [list, ...rest] = children(buf, wrapper);
  if (rest.length > 0) throw derError('extensions: unexpected trailing data');
  const out: Extension[] = [];
  for (const ext of children(buf, expectTag(list, TAG.SEQUENCE, 'Extensions'))) {
    const parts = children(buf, expectTag(ext, TAG.SEQUENCE, 'Extension'));
    const oid = readOid(buf, expectTag(parts[0], TAG.OID, 'extnID'));
    let i = 1;
    let critical = false;
    // An explicit FALSE is strictly BER (DER omits DEFAULT values), but real CAs emit it and both
    // Go and OpenSSL accept it.
    if (parts[i]?.tag === TAG.BOOLEAN) critical = readBoolean(buf, parts[i++]!);
    const value = content(buf, expectTag(parts[i++], TAG.OCTET_STRING, 'extnValue'));
    if (i !== parts.length) throw derError('Extension: unexpected trailing data');
    out.push({ oid, critical, value });
  }
  return out;
}

/** Parses one DER certificate; `der` must be exactly the certificate. Throws INVALID_DER. */
export function parseCertificate(der: Buffer): Certificate {
  const cert = checkDerTree(der);
  const [tbsT, sigAlgT, sigT, ...more] = children(der, expectTag(cert, TAG.SEQUENCE, 'Certificate'));
  if (more.length > 0) throw derError('Certificate: unexpected trailing data');
  const f = children(der, expectTag(tbsT, TAG.SEQUENCE, 'TBSCertificate'));
  const signatureAlgorithm = algorithmOid(der, sigAlgT, 'signatureAlgorithm');
  const signature = bitStringBytes(der, expectTag(sigT, TAG.BIT_STRING, 'signatureValue'), 'signatureValue');

  let i = 0;
  let version = 1;
  if (f[i]?.tag === 0xa0) {
    const [v, ...rest] = children(der, f[i++]!);
    if (rest.length > 0) throw derError('version: unexpected trailing data');
    const n = readInteger(der, expectTag(v, TAG.INTEGER, 'version'));
    // v1 is the DEFAULT and so never encoded in DER.
    if (n.negative || n.magnitude.length !== 1 || n.magnitude[0]! < 1 || n.magnitude[0]! > 2)
      throw derError('version: not v2 or v3');
    version = n.magnitude[0]! + 1;
  }
  const serial = readInteger(der, expectTag(f[i++], TAG.INTEGER, 'serialNumber'));
  const tbsSigAlg = expectTag(f[i++], TAG.SEQUENCE, 'signature');
  algorithmOid(der, tbsSigAlg, 'signature');
  if (!whole(der, tbsSigAlg).equals(whole(der, sigAlgT!)))
    throw derError('signature algorithm differs between TBSCertificate and Certificate');
  const issuer = checkName(der, f[i++], 'issuer');
  const validity = children(der, expectTag(f[i++], TAG.SEQUENCE, 'validity'));
  if (validity.length !== 2) throw derError('validity: wrong number of fields');
  const notBefore = readTime(der, validity[0]!);
  const notAfter = readTime(der, validity[1]!);
  const subject = checkName(der, f[i++], 'subject');
  const spkiT = expectTag(f[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo');
  checkSpkiOutline(der, spkiT);
  // issuerUniqueID [1] and subjectUniqueID [2] (primitive IMPLICIT BIT STRINGs): v2 and later.
  for (const tag of [0x81, 0x82]) {
    const id = f[i];
    if (id?.tag !== tag || version < 2) continue;
    const len = id.end - id.start;
    if (len === 0 || der[id.start]! > 7 || (len === 1 && der[id.start] !== 0))
      throw derError('unique identifier: bad BIT STRING');
    i++;
  }
  let extensions: Extension[] = [];
  if (f[i]?.tag === 0xa3 && version === 3) extensions = readExtensions(der, f[i++]!);
  if (i !== f.length) throw derError('TBSCertificate: unexpected field');

  return {
    der,
    tbs: whole(der, tbsT!),
    version,
    serial: serial.magnitude,
    serialNegative: serial.negative,
    signatureAlgorithm,
    signatureAlgorithmDer: whole(der, sigAlgT!),
    signature,
    issuer: whole(der, issuer),
    subject: whole(der, subject),
    notBefore,
    notAfter,
    spki: whole(der, spkiT),
    extensions,
  };
}

/** Whether `bytes` could be DER of a SEQUENCE (a key or certificate): its first octet is 0x30. */
export function isDerSequence(bytes: Uint8Array): boolean {
  return bytes[0] === TAG.SEQUENCE;
}

/**
 * Whether `der` has a certificate's outline (SEQUENCE whose second element is a SEQUENCE, where
 * an SPKI has a BIT STRING): for verifiers given as bare base64 DER with no PEM type.
 */
export function looksLikeCertificate(der: Buffer): boolean {
  try {
    const outer = expectTag(readTlv(der, 0), TAG.SEQUENCE, 'DER');
    const first = readTlv(der, outer.start, outer.end);
    return readTlv(der, first.end, outer.end).tag === TAG.SEQUENCE;
  } catch {
    return false;
  }
}

/** Dotted OIDs that occur more than once among the extensions. */
export function duplicateExtensionOids(cert: Certificate): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const e of cert.extensions) (seen.has(e.oid) ? dup : seen).add(e.oid);
  return dup;
}
