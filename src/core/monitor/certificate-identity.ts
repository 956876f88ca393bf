/**
 * A certificate's identity for monitoring, read with the one X.509 parser (core/x509). Fail-safe:
 * it never throws. A certificate that is not strict DER X.509 gives `parsed: false` and a
 * malformed reason; inside a parsed certificate each SAN and Fulcio extension that cannot be
 * decoded as its type requires is marked malformed on its own (hex kept for display), so a rule
 * can never match a value that was guessed at.
 */
import { createHash } from 'node:crypto';
import { isVellumError } from '../errors';
import {
  OID_FULCIO_ISSUER_V1,
  OID_FULCIO_ISSUER_V2,
  OID_FULCIO_OTHERNAME_SAN,
  OID_SAN,
  decodeFulcioExtension,
  decodeIpName,
  decodeOtherNameUtf8,
  decodeTextName,
  fulcioField,
  parseCertificate,
  parseGeneralNames,
  parseOtherName,
  type Certificate,
  type GeneralName,
} from '../x509';
import { capLength } from './display';
import {
  LIMITS,
  type CertificateIdentity,
  type DecodedValue,
  type ExtensionValue,
  type IssuerInfo,
  type MalformedReason,
  type SanType,
  type SanValue,
} from './identity-types';

export const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
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

/** The identity of one DER certificate. Never throws. */
export function certificateIdentity(
  der: Buffer,
  path: string,
  malformed: MalformedReason[],
): CertificateIdentity {
  const sha256 = sha256hex(der);
  let cert: Certificate;
  try {
    cert = parseCertificate(der);
  } catch (e) {
    if (!isVellumError(e, 'INVALID_DER')) throw e;
    malformed.push({ path, reason: `unparsable certificate: ${e.message}` });
    return {
      sha256,
      parsed: false,
      sans: [],
      extensions: [],
      issuer: { unknown: true, disagreement: false },
    };
  }
  const extensions: ExtensionValue[] = [];
  let sans: SanValue[] = [];
  let sansMalformed: string | undefined;
  const seenOids = new Set<string>();
  for (const ext of cert.extensions) {
    const dup = seenOids.has(ext.oid);
    seenOids.add(ext.oid);
    if (ext.oid === OID_SAN) {
      if (dup) {
        sansMalformed = 'duplicate subjectAltName extension';
        malformed.push({ path, reason: sansMalformed });
        continue;
      }
      const res = sanValues(ext.value, path, malformed);
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
    } else {
      try {
        dv = decoded(decodeFulcioExtension(field, ext.value, label), label, malformed, where);
      } catch (e) {
        malformed.push({ path: where, reason: errMessage(e) });
        dv = badValue(ext.value, errMessage(e));
      }
    }
    extensions.push({ ...base, ...dv });
  }
  return {
    sha256,
    spkiSha256: sha256hex(cert.spki),
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
  // `.1.8` wins when present, even undecodable: never fall back from a bad one to `.1.1`.
  const source = v2 !== undefined ? 'v2' : v1 !== undefined ? 'v1' : undefined;
  const used = source === 'v2' ? v2 : v1;
  if (source === undefined) return { ...base, unknown: false };
  return ok(used)
    ? { ...base, value: used.value, source, unknown: false }
    : { ...base, source, unknown: true };
}

const TEXT_LABEL: Readonly<Record<string, string>> = { email: 'email SAN', dns: 'DNS SAN', uri: 'URI SAN' };

function otherNameValue(gn: GeneralName, malformed: MalformedReason[], where: string): SanValue {
  let oid: string | undefined;
  try {
    const other = parseOtherName(gn);
    oid = other.oid;
    if (oid === OID_FULCIO_OTHERNAME_SAN) {
      const v = decodeOtherNameUtf8(other, `OtherName ${oid}`);
      return { type: 'otherName', oid, ...decoded(v, 'OtherName SAN', malformed, where) };
    }
    // Not a Fulcio identity: recorded for display, never matched.
    let v: string;
    try {
      v = decodeOtherNameUtf8(other, 'OtherName');
    } catch {
      v = other.value.toString('hex');
    }
    const c = capLength(v);
    return { type: 'otherName', oid, value: c.value, truncated: c.truncated };
  } catch (e) {
    const reason = `OtherName${oid ? ` ${oid}` : ''}: ${errMessage(e)}`;
    malformed.push({ path: where, reason });
    return { type: 'otherName', ...(oid ? { oid } : {}), ...badValue(gn.bytes, reason) };
  }
}

function sanValues(
  value: Buffer,
  path: string,
  malformed: MalformedReason[],
): { sans: SanValue[]; error?: string } {
  let names: GeneralName[];
  try {
    names = parseGeneralNames(value, LIMITS.maxSans);
  } catch (e) {
    return { sans: [], error: errMessage(e) };
  }
  const sans: SanValue[] = [];
  const where = `${path} subjectAltName`;
  for (const gn of names) {
    if (gn.type === 'otherName') {
      sans.push(otherNameValue(gn, malformed, where));
      continue;
    }
    // x400Address, directoryName, ediPartyName, registeredID: not identities Vellum matches.
    if (gn.type === 'other') continue;
    const type: SanType = gn.type;
    try {
      const text = type === 'ip' ? decodeIpName(gn, 'IP SAN') : decodeTextName(gn, TEXT_LABEL[type]!);
      sans.push({ type, ...decoded(text, `${type} SAN`, malformed, where) });
    } catch (e) {
      malformed.push({ path: where, reason: errMessage(e) });
      sans.push({ type, ...badValue(gn.bytes, errMessage(e)) });
    }
  }
  return { sans };
}
