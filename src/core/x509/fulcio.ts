/**
 * Fulcio certificate identity fields (Fulcio's OID information document). All live under Sigstore's PEN
 * 1.3.6.1.4.1.57264; `.1.*` is Fulcio's arc. Encodings: `.1.1`–`.1.6` raw bytes, `.1.7` an
 * OtherName SAN, `.1.8` and up a DER UTF8String. Names are rekor-monitor's keys.
 */
import { decodeDerUtf8String, decodeUtf8Strict, derError } from '../asn1';

export const FULCIO_ARC = '1.3.6.1.4.1.57264.1';
export const OID_FULCIO_ISSUER_V1 = `${FULCIO_ARC}.1`;
export const OID_FULCIO_OTHERNAME_SAN = `${FULCIO_ARC}.7`;
export const OID_FULCIO_ISSUER_V2 = `${FULCIO_ARC}.8`;
export const OID_RUN_INVOCATION_URI = `${FULCIO_ARC}.21`;

export type FulcioEncoding = 'raw' | 'othername-san' | 'utf8string';

export interface FulcioField {
  /** Dotted OID. */
  readonly oid: string;
  /** The arc number after 1.3.6.1.4.1.57264.1. */
  readonly arc: number;
  /** rekor-monitor key (kebab-case); undefined for OIDs addressed only by dotted form. */
  readonly name?: string;
  readonly encoding: FulcioEncoding;
  readonly description: string;
}

const TABLE: ReadonlyArray<[number, string | undefined, string]> = [
  [1, 'issuer-v1', 'Issuer (deprecated, raw)'],
  [2, 'github-workflow-trigger', 'GitHub Workflow Trigger (deprecated)'],
  [3, 'github-workflow-sha', 'GitHub Workflow SHA (deprecated)'],
  [4, 'github-workflow-name', 'GitHub Workflow Name (deprecated)'],
  [5, 'github-workflow-repository', 'GitHub Workflow Repository (deprecated)'],
  [6, 'github-workflow-ref', 'GitHub Workflow Ref (deprecated)'],
  [7, undefined, 'OtherName SAN (username identity)'],
  [8, 'issuer-v2', 'Issuer (v2)'],
  [9, 'build-signer-uri', 'Build Signer URI'],
  [10, 'build-signer-digest', 'Build Signer Digest'],
  [11, 'runner-environment', 'Runner Environment'],
  [12, 'source-repository-uri', 'Source Repository URI'],
  [13, 'source-repository-digest', 'Source Repository Digest'],
  [14, 'source-repository-ref', 'Source Repository Ref'],
  [15, 'source-repository-identifier', 'Source Repository Identifier'],
  [16, 'source-repository-owner-uri', 'Source Repository Owner URI'],
  [17, 'source-repository-owner-identifier', 'Source Repository Owner Identifier'],
  [18, 'build-config-uri', 'Build Config URI'],
  [19, 'build-config-digest', 'Build Config Digest'],
  [20, 'build-trigger', 'Build Trigger'],
  [21, 'run-invocation-uri', 'Run Invocation URI'],
  [22, 'source-repository-visibility-at-signing', 'Source Repository Visibility At Signing'],
  [23, undefined, 'Deployment Environment'],
  [24, undefined, 'Token Subject'],
];

/**
 * Note on `issuer`: rekor-monitor uses the key `issuer` for both .1.1 and .1.8. Vellum's rules use
 * `issuer` for the *resolved* issuer (.1.8, else .1.1); the two raw extensions are reachable as
 * `issuer-v1` / `issuer-v2` or by dotted OID.
 */
export const FULCIO_FIELDS: readonly FulcioField[] = TABLE.map(([arc, name, description]) => ({
  oid: `${FULCIO_ARC}.${arc}`,
  arc,
  ...(name !== undefined ? { name } : {}),
  encoding: arc <= 6 ? 'raw' : arc === 7 ? 'othername-san' : 'utf8string',
  description,
}));

const BY_OID = new Map(FULCIO_FIELDS.map((f) => [f.oid, f]));
const BY_NAME = new Map<string, FulcioField>();
for (const f of FULCIO_FIELDS) {
  if (f.name !== undefined) {
    BY_NAME.set(f.name, f);
    BY_NAME.set(kebabToCamel(f.name), f);
  }
}

export function kebabToCamel(s: string): string {
  return s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const FULCIO_OID_RE = /^1\.3\.6\.1\.4\.1\.57264\.1\.([1-9][0-9]{0,5})$/;

/** Arc number of a dotted OID on Fulcio's `.1.*` arc, else undefined. */
export function fulcioArc(oid: string): number | undefined {
  const m = FULCIO_OID_RE.exec(oid);
  return m ? Number(m[1]) : undefined;
}

/**
 * Describes any OID on Fulcio's arc, including ones newer than the table (decoded as UTF8String,
 * per "`.1.8` and up"). Undefined for OIDs off the arc.
 */
export function fulcioField(oid: string): FulcioField | undefined {
  const known = BY_OID.get(oid);
  if (known) return known;
  const arc = fulcioArc(oid);
  if (arc === undefined) return undefined;
  return { oid, arc, encoding: arc <= 6 ? 'raw' : 'utf8string', description: 'unknown Fulcio extension' };
}

/** Looks up a Fulcio field by rekor-monitor name (kebab-case or camelCase). */
export function fulcioFieldByName(name: string): FulcioField | undefined {
  return BY_NAME.get(name);
}

/**
 * The text of a Fulcio extension value in the encoding its arc requires: `.1.1`-`.1.6` are the
 * raw UTF-8 bytes (the legacy form), `.1.8` and up exactly one DER UTF8String. A DER-wrapped
 * legacy value stays raw and a raw modern value is refused, so the two forms never blur.
 * Throws INVALID_DER.
 */
export function decodeFulcioExtension(field: FulcioField, value: Buffer, what: string): string {
  if (field.encoding === 'raw') return decodeUtf8Strict(value, what);
  if (field.encoding === 'utf8string') return decodeDerUtf8String(value, what);
  throw derError(`${OID_FULCIO_OTHERNAME_SAN} is an OtherName SAN type, not an extension`);
}
