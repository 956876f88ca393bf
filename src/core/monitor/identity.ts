/**
 * Identity extraction for monitoring (docs/monitoring.md, "Fields"): from a canonical entry body, every
 * signer's certificate identity (SANs, Fulcio extensions, issuer) or bare-key fingerprint.
 *
 * Entry fields are hostile. Parsing is fail-safe: anything that cannot be decoded is reported as a
 * `malformed` reason (never skipped, never thrown), values are capped at MAX_VALUE_LENGTH and kept
 * raw; use `escapeForDisplay` before putting any of them into human-facing text. The only throws
 * are VellumErrors for bodies that are not JSON objects of a supported kind.
 */
import { createHash } from 'node:crypto';
import { VellumError } from '../errors';
import { decodeBase64Strict, pemDecodeAll } from '../encoding';
import {
  DerError,
  DerReader,
  TAG,
  content,
  decodeDerUtf8String,
  decodeIa5,
  decodeOid,
  decodeUtf8Strict,
  whole,
} from './der';
import { capLength } from './display';
import { formatIp } from './ip';
import {
  FULCIO_ARC,
  OID_FULCIO_ISSUER_V1,
  OID_FULCIO_ISSUER_V2,
  OID_FULCIO_OTHERNAME_SAN,
  OID_SAN,
  fulcioField,
  fulcioFieldByName,
} from './oids';

export { escapeForDisplay, capLength, MAX_VALUE_LENGTH } from './display';
export type { DisplayTarget } from './display';

/** Entry kinds (and their only supported apiVersion) whose identities Vellum extracts. */
export const IDENTITY_KINDS = { hashedrekord: '0.0.1', dsse: '0.0.1', intoto: '0.0.2' } as const;
export type IdentityKind = keyof typeof IDENTITY_KINDS;

/** Limits on hostile input. */
export const LIMITS = { maxSigners: 64, maxChainCertificates: 10, maxSans: 100 } as const;

export interface MalformedReason {
  /** Where: a JSON path into the body, refined with certificate/extension details. */
  readonly path: string;
  readonly reason: string;
}

/**
 * A decoded certificate field. `value` is capped at MAX_VALUE_LENGTH. When `malformed` is set the
 * value could not be decoded as its encoding requires; `value` then holds a best-effort rendering
 * (hex) for display only, and matching treats the field as unknown.
 */
export interface DecodedValue {
  readonly value: string;
  readonly truncated: boolean;
  readonly malformed?: string;
}

export type SanType = 'email' | 'uri' | 'dns' | 'ip' | 'otherName';

export interface SanValue extends DecodedValue {
  readonly type: SanType;
  /** OtherName type-id (dotted). Only Fulcio's 1.3.6.1.4.1.57264.1.7 counts as a subject. */
  readonly oid?: string;
}

export interface ExtensionValue extends DecodedValue {
  /** Dotted OID on Fulcio's arc. */
  readonly oid: string;
  /** rekor-monitor key (kebab-case), when the OID has one. */
  readonly name?: string;
  readonly critical: boolean;
}

export interface IssuerInfo {
  /** Resolved issuer: `.1.8` if present, else `.1.1`. Undefined if neither, or if the one used is malformed. */
  readonly value?: string;
  readonly source?: 'v2' | 'v1';
  /** True when the resolved issuer exists but cannot be decoded (never falls back from a bad `.1.8`). */
  readonly unknown: boolean;
  /** True when `.1.1` and `.1.8` both decode and differ (itself an alert). */
  readonly disagreement: boolean;
  readonly v1?: string;
  readonly v2?: string;
}

export interface CertificateIdentity {
  /** Hex SHA-256 of the DER certificate. */
  readonly sha256: string;
  /** Hex SHA-256 of the DER SubjectPublicKeyInfo; undefined when the certificate could not be parsed. */
  readonly spkiSha256?: string;
  /** False when the certificate structure could not be parsed: every field but `sha256` is unknown. */
  readonly parsed: boolean;
  readonly sans: readonly SanValue[];
  /** Set when the SAN extension as a whole is unusable (bad structure, duplicated, too many names). */
  readonly sansMalformed?: string;
  /** Extensions on Fulcio's arc, in certificate order. */
  readonly extensions: readonly ExtensionValue[];
  readonly issuer: IssuerInfo;
}

export interface SignerIdentity {
  /** JSON path of the verifier in the body, e.g. `spec.signatures[0].verifier`. */
  readonly path: string;
  readonly type: 'certificate' | 'publicKey' | 'unparsable';
  /** The leaf certificate (first PEM block) when `type === 'certificate'`. */
  readonly certificate?: CertificateIdentity;
  /** Hex SHA-256 of further certificates in the PEM chain, in order. */
  readonly chainSha256: readonly string[];
  /** Hex SHA-256 of the SPKI: the bare key, or the leaf certificate's key. */
  readonly publicKeySha256?: string;
  readonly malformed: readonly MalformedReason[];
}

export interface EntryIdentity {
  readonly kind: string;
  readonly apiVersion: string;
  readonly signers: readonly SignerIdentity[];
  /** Digests in the body (`<alg>:<lowercase hex>`): hashedrekord data hash, dsse/intoto payload and envelope hashes. */
  readonly digests: readonly string[];
  /** Every malformed reason of the entry, signers' included. Non-empty ⇒ possibly yours. */
  readonly malformed: readonly MalformedReason[];
}

const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Extracts the identities of a canonical entry body (hashedrekord 0.0.1, dsse 0.0.1, intoto 0.0.2),
 * as bytes or already-parsed JSON. Throws VellumError INVALID_ENTRY when the body is not a JSON
 * object, UNSUPPORTED_KIND / UNSUPPORTED_VERSION for other kinds (callers that must stay fail-safe
 * use {@link unparsableIdentity} for those). Everything inside a known kind that cannot be decoded
 * is reported in `malformed`.
 */
export function extractIdentities(body: Buffer | Uint8Array | object): EntryIdentity {
  let obj: unknown = body;
  if (body instanceof Uint8Array) {
    try {
      obj = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    } catch {
      throw new VellumError('INVALID_ENTRY', 'entry body is not valid JSON');
    }
  }
  if (!isObject(obj)) throw new VellumError('INVALID_ENTRY', 'entry body is not a JSON object');
  const { kind, apiVersion } = obj;
  if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(IDENTITY_KINDS, kind)) {
    throw new VellumError(
      'UNSUPPORTED_KIND',
      `entry kind ${JSON.stringify(kind)} is not supported for identity extraction`,
    );
  }
  const k = kind as IdentityKind;
  if (apiVersion !== IDENTITY_KINDS[k]) {
    throw new VellumError(
      'UNSUPPORTED_VERSION',
      `${k} apiVersion ${JSON.stringify(apiVersion)} is not supported`,
    );
  }
  const entryMalformed: MalformedReason[] = [];
  const verifiers: Array<{ path: string; value: unknown }> = [];
  const digests: string[] = [];
  const spec = obj.spec;
  const need = (cond: boolean, path: string, reason: string): boolean => {
    if (!cond) entryMalformed.push({ path, reason });
    return cond;
  };
  const digest = (h: unknown): void => {
    if (!isObject(h) || typeof h.algorithm !== 'string' || typeof h.value !== 'string') return;
    if (!/^sha(?:256|384|512)$/.test(h.algorithm) || !/^[0-9a-fA-F]{64,128}$/.test(h.value)) return;
    const d = `${h.algorithm}:${h.value.toLowerCase()}`;
    if (!digests.includes(d)) digests.push(d);
  };

  if (need(isObject(spec), 'spec', 'missing or not an object') && isObject(spec)) {
    if (k === 'hashedrekord') {
      const sig = spec.signature;
      const pk = isObject(sig) ? sig.publicKey : undefined;
      if (need(isObject(pk), 'spec.signature.publicKey', 'missing') && isObject(pk)) {
        verifiers.push({ path: 'spec.signature.publicKey.content', value: pk.content });
      }
      if (isObject(spec.data)) digest(spec.data.hash);
    } else if (k === 'dsse') {
      const sigs = spec.signatures;
      if (
        need(Array.isArray(sigs) && sigs.length > 0, 'spec.signatures', 'missing or empty') &&
        Array.isArray(sigs)
      ) {
        sigs.forEach((s, i) => {
          if (need(isObject(s), `spec.signatures[${i}]`, 'not an object') && isObject(s)) {
            verifiers.push({ path: `spec.signatures[${i}].verifier`, value: s.verifier });
          }
        });
      }
      digest(spec.payloadHash);
      digest(spec.envelopeHash);
    } else {
      const c = spec.content;
      const env = isObject(c) ? c.envelope : undefined;
      const sigs = isObject(env) ? env.signatures : undefined;
      if (
        need(
          Array.isArray(sigs) && sigs.length > 0,
          'spec.content.envelope.signatures',
          'missing or empty',
        ) &&
        Array.isArray(sigs)
      ) {
        sigs.forEach((s, i) => {
          if (need(isObject(s), `spec.content.envelope.signatures[${i}]`, 'not an object') && isObject(s)) {
            verifiers.push({ path: `spec.content.envelope.signatures[${i}].publicKey`, value: s.publicKey });
          }
        });
      }
      if (isObject(c)) {
        digest(c.payloadHash);
        digest(c.hash);
      }
    }
  }

  const seen = new Set<string>();
  const signers: SignerIdentity[] = [];
  for (const v of verifiers) {
    if (typeof v.value === 'string') {
      if (seen.has(v.value)) continue;
      seen.add(v.value);
    }
    if (signers.length >= LIMITS.maxSigners) {
      entryMalformed.push({ path: v.path, reason: `more than ${LIMITS.maxSigners} distinct verifiers` });
      signers.push(unparsableSigner(v.path, 'not examined (too many verifiers)'));
      break;
    }
    signers.push(parseVerifier(v.path, v.value));
  }
  return {
    kind: k,
    apiVersion: apiVersion as string,
    signers,
    digests,
    malformed: [...entryMalformed, ...signers.flatMap((s) => s.malformed)],
  };
}

/**
 * An identity for an entry whose identities cannot be extracted at all (unknown kind, unparsable
 * body): one signer of unknown type, so every rule whose scope depends on more than `kind` yields
 * `entry.malformed` — the fail-safe stance.
 */
export function unparsableIdentity(kind: string, apiVersion: string, reason: string): EntryIdentity {
  const signer = unparsableSigner('', reason);
  return { kind, apiVersion, signers: [signer], digests: [], malformed: [...signer.malformed] };
}

function unparsableSigner(path: string, reason: string): SignerIdentity {
  return { path, type: 'unparsable', chainSha256: [], malformed: [{ path, reason }] };
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Parses one verifier string: PEM, or base64 of PEM (as stored in bodies), or base64 of DER. */
export function parseVerifier(path: string, value: unknown): SignerIdentity {
  if (typeof value !== 'string' || value.length === 0)
    return unparsableSigner(path, 'missing or not a string');
  let pemText: string | undefined;
  let rawDer: Buffer | undefined;
  if (value.trimStart().startsWith('-----BEGIN')) {
    pemText = value;
  } else {
    let bytes: Buffer;
    try {
      bytes = decodeBase64Strict(value, 'verifier');
    } catch (e) {
      return unparsableSigner(path, `neither PEM nor base64: ${errMessage(e)}`);
    }
    const asText = bytes.toString('latin1');
    if (asText.trimStart().startsWith('-----BEGIN')) {
      if (bytes.some((b) => !(b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b <= 0x7e)))) {
        return unparsableSigner(path, 'PEM text contains control or non-ASCII bytes');
      }
      pemText = asText;
    } else if (bytes[0] === TAG.SEQUENCE) {
      rawDer = bytes;
    } else {
      return unparsableSigner(path, 'decoded verifier is neither PEM nor DER');
    }
  }
  let blocks: Array<{ type: string; der: Buffer }>;
  if (pemText !== undefined) {
    try {
      blocks = pemDecodeAll(pemText);
    } catch (e) {
      return unparsableSigner(path, errMessage(e));
    }
  } else {
    blocks = [{ type: looksLikeCertificate(rawDer!) ? 'CERTIFICATE' : 'PUBLIC KEY', der: rawDer! }];
  }
  const malformed: MalformedReason[] = [];
  const types = new Set(blocks.map((b) => b.type));
  for (const t of types) {
    if (t !== 'CERTIFICATE' && t !== 'PUBLIC KEY')
      malformed.push({ path, reason: `unsupported PEM block type ${t}` });
  }
  if (types.size > 1) malformed.push({ path, reason: 'mixed PEM block types' });
  const first = blocks[0]!;
  if (first.type === 'PUBLIC KEY') {
    if (blocks.length > 1) malformed.push({ path, reason: 'more than one PUBLIC KEY block' });
    let publicKeySha256: string | undefined;
    try {
      parseSpki(first.der);
      publicKeySha256 = sha256hex(first.der);
    } catch (e) {
      malformed.push({ path, reason: `public key: ${errMessage(e)}` });
    }
    return {
      path,
      type: publicKeySha256 === undefined ? 'unparsable' : 'publicKey',
      chainSha256: [],
      ...(publicKeySha256 !== undefined ? { publicKeySha256 } : {}),
      malformed,
    };
  }
  if (first.type !== 'CERTIFICATE') {
    return { path, type: 'unparsable', chainSha256: [], malformed };
  }
  if (blocks.length > 1 + LIMITS.maxChainCertificates) {
    malformed.push({ path, reason: `certificate chain longer than ${LIMITS.maxChainCertificates}` });
  }
  const cert = parseCertificate(first.der, `${path} certificate[0]`, malformed);
  const chainSha256 = blocks.slice(1, 1 + LIMITS.maxChainCertificates).map((b) => sha256hex(b.der));
  return {
    path,
    type: 'certificate',
    certificate: cert,
    chainSha256,
    ...(cert.spkiSha256 !== undefined ? { publicKeySha256: cert.spkiSha256 } : {}),
    malformed,
  };
}

function looksLikeCertificate(der: Buffer): boolean {
  try {
    const r = new DerReader(der);
    const outer = r.readTag(TAG.SEQUENCE, 'DER');
    const inner = DerReader.of(der, outer);
    inner.read('DER');
    // Certificate: { TBSCertificate, AlgorithmIdentifier, BIT STRING }; SPKI: { AlgorithmIdentifier, BIT STRING }.
    return inner.read('DER').tag === TAG.SEQUENCE;
  } catch {
    return false;
  }
}

/** Validates SubjectPublicKeyInfo structure: SEQUENCE { AlgorithmIdentifier, BIT STRING }, nothing after. */
function parseSpki(der: Buffer): void {
  try {
    const r = new DerReader(der);
    const outer = r.readTag(TAG.SEQUENCE, 'SubjectPublicKeyInfo');
    r.expectEnd('SubjectPublicKeyInfo');
    const s = DerReader.of(der, outer);
    const alg = s.readTag(TAG.SEQUENCE, 'AlgorithmIdentifier');
    DerReader.of(der, alg).readTag(TAG.OID, 'algorithm');
    s.readTag(TAG.BIT_STRING, 'subjectPublicKey');
    s.expectEnd('SubjectPublicKeyInfo');
  } catch (e) {
    if (e instanceof DerError) throw e;
    throw new DerError(errMessage(e));
  }
}

function decoded(raw: string, what: string, malformed: MalformedReason[], path: string): DecodedValue {
  const c = capLength(raw);
  if (c.truncated) {
    const reason = `${what}: value longer than ${c.value.length} characters (truncated)`;
    malformed.push({ path, reason });
    return { value: c.value, truncated: true, malformed: reason };
  }
  return { value: c.value, truncated: false };
}

function badValue(bytes: Buffer, reason: string): DecodedValue {
  const c = capLength(bytes.toString('hex'));
  return { value: c.value, truncated: c.truncated, malformed: reason };
}

/**
 * Parses an X.509 certificate (strict DER) into its identity. Never throws: structural failures
 * give `parsed: false` and a malformed reason; per-field failures mark that field.
 */
export function parseCertificate(
  der: Buffer,
  path: string,
  malformed: MalformedReason[],
): CertificateIdentity {
  const sha256 = sha256hex(der);
  const unparsed = (reason: string, spkiSha256?: string): CertificateIdentity => {
    malformed.push({ path, reason: `unparsable certificate: ${reason}` });
    return {
      sha256,
      ...(spkiSha256 !== undefined ? { spkiSha256 } : {}),
      parsed: false,
      sans: [],
      extensions: [],
      issuer: { unknown: true, disagreement: false },
    };
  };
  let spkiSha256: string | undefined;
  let extsTlv: ReturnType<DerReader['read']> | undefined;
  try {
    const r = new DerReader(der);
    const certT = r.readTag(TAG.SEQUENCE, 'Certificate');
    r.expectEnd('Certificate');
    const c = DerReader.of(der, certT);
    const tbsT = c.readTag(TAG.SEQUENCE, 'TBSCertificate');
    c.readTag(TAG.SEQUENCE, 'signatureAlgorithm');
    c.readTag(TAG.BIT_STRING, 'signatureValue');
    c.expectEnd('Certificate');
    const t = DerReader.of(der, tbsT);
    t.readOptional(0xa0, 'version');
    t.readTag(TAG.INTEGER, 'serialNumber');
    t.readTag(TAG.SEQUENCE, 'signature');
    t.readTag(TAG.SEQUENCE, 'issuer');
    t.readTag(TAG.SEQUENCE, 'validity');
    t.readTag(TAG.SEQUENCE, 'subject');
    const spkiT = t.readTag(TAG.SEQUENCE, 'subjectPublicKeyInfo');
    parseSpki(whole(der, spkiT));
    spkiSha256 = sha256hex(whole(der, spkiT));
    if (t.peekTag() === 0x81 || t.peekTag() === 0xa1) t.read('issuerUniqueID');
    if (t.peekTag() === 0x82 || t.peekTag() === 0xa2) t.read('subjectUniqueID');
    extsTlv = t.readOptional(0xa3, 'extensions');
    t.expectEnd('TBSCertificate');
  } catch (e) {
    return unparsed(errMessage(e), spkiSha256);
  }

  const extensions: ExtensionValue[] = [];
  let sans: SanValue[] = [];
  let sansMalformed: string | undefined;
  const seenOids = new Set<string>();
  if (extsTlv !== undefined) {
    let list: Array<{ oid: string; critical: boolean; value: Buffer }>;
    try {
      list = [];
      const outer = DerReader.of(der, extsTlv);
      const seqT = outer.readTag(TAG.SEQUENCE, 'Extensions');
      outer.expectEnd('extensions');
      const seq = DerReader.of(der, seqT);
      while (!seq.atEnd()) {
        const extT = seq.readTag(TAG.SEQUENCE, 'Extension');
        const e = DerReader.of(der, extT);
        const oid = decodeOid(content(der, e.readTag(TAG.OID, 'extnID')));
        let critical = false;
        const b = e.readOptional(TAG.BOOLEAN, 'critical');
        if (b !== undefined) {
          const v = content(der, b);
          if (v.length !== 1 || (v[0] !== 0 && v[0] !== 0xff))
            throw new DerError('critical: invalid BOOLEAN');
          critical = v[0] === 0xff;
        }
        const value = content(der, e.readTag(TAG.OCTET_STRING, 'extnValue'));
        e.expectEnd('Extension');
        list.push({ oid, critical, value });
      }
    } catch (e) {
      return unparsed(`extensions: ${errMessage(e)}`, spkiSha256);
    }
    for (const ext of list) {
      const dup = seenOids.has(ext.oid);
      seenOids.add(ext.oid);
      if (ext.oid === OID_SAN) {
        if (dup) {
          sansMalformed = 'duplicate subjectAltName extension';
          malformed.push({ path, reason: sansMalformed });
          continue;
        }
        const res = parseSans(ext.value, path, malformed);
        sans = res.sans;
        if (res.error !== undefined) {
          sansMalformed = res.error;
          malformed.push({ path, reason: `subjectAltName: ${res.error}` });
        }
        continue;
      }
      const field = fulcioField(ext.oid);
      if (!field) continue;
      const label = `extension ${ext.oid}${field.name ? ` (${field.name})` : ''}`;
      const where = `${path} ${label}`;
      const base = { oid: ext.oid, ...(field.name ? { name: field.name } : {}), critical: ext.critical };
      let dv: DecodedValue;
      if (dup) {
        const reason = 'duplicate extension';
        malformed.push({ path: where, reason });
        // Every copy becomes unknown: which one a consumer would read is not defined.
        for (let i = 0; i < extensions.length; i++) {
          const prev = extensions[i]!;
          if (prev.oid === ext.oid && prev.malformed === undefined)
            extensions[i] = { ...prev, malformed: reason };
        }
        dv = badValue(ext.value, reason);
      } else if (field.encoding === 'raw') {
        try {
          dv = decoded(decodeUtf8Strict(ext.value, label), label, malformed, where);
        } catch (e) {
          malformed.push({ path: where, reason: errMessage(e) });
          dv = badValue(ext.value, errMessage(e));
        }
      } else if (field.encoding === 'utf8string') {
        try {
          dv = decoded(decodeDerUtf8String(ext.value, label), label, malformed, where);
        } catch (e) {
          malformed.push({ path: where, reason: errMessage(e) });
          dv = badValue(ext.value, errMessage(e));
        }
      } else {
        const reason = `${OID_FULCIO_OTHERNAME_SAN} is an OtherName SAN type, not an extension`;
        malformed.push({ path: where, reason });
        dv = badValue(ext.value, reason);
      }
      extensions.push({ ...base, ...dv });
    }
  }
  return {
    sha256,
    ...(spkiSha256 !== undefined ? { spkiSha256 } : {}),
    parsed: true,
    sans,
    ...(sansMalformed !== undefined ? { sansMalformed } : {}),
    extensions,
    issuer: resolveIssuer(extensions),
  };
}

function resolveIssuer(exts: readonly ExtensionValue[]): IssuerInfo {
  const v1 = exts.find((e) => e.oid === OID_FULCIO_ISSUER_V1);
  const v2 = exts.find((e) => e.oid === OID_FULCIO_ISSUER_V2);
  const ok = (e: ExtensionValue | undefined): e is ExtensionValue =>
    e !== undefined && e.malformed === undefined;
  const base = {
    ...(ok(v1) ? { v1: v1.value } : {}),
    ...(ok(v2) ? { v2: v2.value } : {}),
    disagreement: ok(v1) && ok(v2) && v1.value !== v2.value,
  };
  if (v2 !== undefined) {
    return ok(v2)
      ? { ...base, value: v2.value, source: 'v2', unknown: false }
      : { ...base, source: 'v2', unknown: true };
  }
  if (v1 !== undefined) {
    return ok(v1)
      ? { ...base, value: v1.value, source: 'v1', unknown: false }
      : { ...base, source: 'v1', unknown: true };
  }
  return { ...base, unknown: false };
}

function parseSans(
  value: Buffer,
  path: string,
  malformed: MalformedReason[],
): { sans: SanValue[]; error?: string } {
  const sans: SanValue[] = [];
  try {
    const r = new DerReader(value);
    const seqT = r.readTag(TAG.SEQUENCE, 'GeneralNames');
    r.expectEnd('subjectAltName');
    const seq = DerReader.of(value, seqT);
    while (!seq.atEnd()) {
      if (sans.length >= LIMITS.maxSans) return { sans, error: `more than ${LIMITS.maxSans} names` };
      const gn = seq.read('GeneralName');
      const bytes = content(value, gn);
      const where = `${path} subjectAltName`;
      const text = (type: SanType, decode: () => string): void => {
        try {
          sans.push({ type, ...decoded(decode(), `${type} SAN`, malformed, where) });
        } catch (e) {
          malformed.push({ path: where, reason: errMessage(e) });
          sans.push({ type, ...badValue(bytes, errMessage(e)) });
        }
      };
      switch (gn.tag) {
        case 0x81:
          text('email', () => decodeIa5(bytes, 'email SAN'));
          break;
        case 0x82:
          text('dns', () => decodeIa5(bytes, 'DNS SAN'));
          break;
        case 0x86:
          text('uri', () => decodeIa5(bytes, 'URI SAN'));
          break;
        case 0x87:
          text('ip', () => {
            if (bytes.length !== 4 && bytes.length !== 16)
              throw new DerError('IP SAN: length is not 4 or 16');
            return formatIp(bytes);
          });
          break;
        case 0xa0: {
          // OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY } (IMPLICIT [0] on the SEQUENCE)
          let oid: string | undefined;
          try {
            const o = DerReader.of(value, gn);
            oid = decodeOid(content(value, o.readTag(TAG.OID, 'OtherName type-id')));
            const wrap = o.readTag(0xa0, 'OtherName value');
            o.expectEnd('OtherName');
            const inner = content(value, wrap);
            if (oid === OID_FULCIO_OTHERNAME_SAN) {
              sans.push({
                type: 'otherName',
                oid,
                ...decoded(decodeDerUtf8String(inner, `OtherName ${oid}`), 'OtherName SAN', malformed, where),
              });
            } else {
              // Not a Fulcio identity: recorded for display, never matched.
              let v: string;
              try {
                v = decodeDerUtf8String(inner, 'OtherName');
              } catch {
                v = inner.toString('hex');
              }
              const c = capLength(v);
              sans.push({ type: 'otherName', oid, value: c.value, truncated: c.truncated });
            }
          } catch (e) {
            const reason = `OtherName${oid ? ` ${oid}` : ''}: ${errMessage(e)}`;
            malformed.push({ path: where, reason });
            sans.push({ type: 'otherName', ...(oid ? { oid } : {}), ...badValue(bytes, reason) });
          }
          break;
        }
        default:
          // x400Address, directoryName, ediPartyName, registeredID: not identities Vellum matches.
          break;
      }
    }
  } catch (e) {
    return { sans, error: errMessage(e) };
  }
  return { sans };
}

// ---------------------------------------------------------------------------------------------
// Accessors used by rules, evaluation and alert rendering.

/** An extension of the leaf certificate by dotted OID or rekor-monitor name (kebab or camelCase). */
export function getExtension(cert: CertificateIdentity, nameOrOid: string): ExtensionValue | undefined {
  const oid = nameOrOid.startsWith(`${FULCIO_ARC}.`) ? nameOrOid : fulcioFieldByName(nameOrOid)?.oid;
  if (oid === undefined) return undefined;
  return cert.extensions.find((e) => e.oid === oid);
}

/** Subject values (SANs that are identities: email, URI, DNS, IP, Fulcio OtherName .1.7). */
export function subjectSans(cert: CertificateIdentity): SanValue[] {
  return cert.sans.filter((s) => s.type !== 'otherName' || s.oid === OID_FULCIO_OTHERNAME_SAN);
}

/**
 * Keys for an identity index (issuer+subject, repository id, fingerprint), lowercased where the
 * value is case-insensitive. Malformed values are left out (they are reported separately).
 */
export function identityIndexKeys(identity: EntryIdentity): string[] {
  const keys = new Set<string>();
  for (const s of identity.signers) {
    if (s.publicKeySha256) keys.add(`fingerprint:sha256:${s.publicKeySha256}`);
    const c = s.certificate;
    if (!c) continue;
    keys.add(`fingerprint:sha256:${c.sha256}`);
    if (!c.parsed) continue;
    const issuer = c.issuer.value ?? '';
    for (const san of subjectSans(c)) {
      if (san.malformed === undefined) keys.add(`subject:${issuer}\n${san.value}`);
    }
    for (const oid of [`${FULCIO_ARC}.15`, `${FULCIO_ARC}.17`]) {
      const e = c.extensions.find((x) => x.oid === oid);
      if (e && e.malformed === undefined) keys.add(`${e.name}:${e.value}`);
    }
  }
  return [...keys];
}
