/**
 * What identity extraction reports for an entry (docs/monitoring.md, "Fields"): every signer's
 * certificate identity (SANs, Fulcio extensions, issuer) or bare-key fingerprint, and every
 * reason something could not be decoded. Values are raw and capped; never trusted for display.
 */

/** Kinds and versions identities are extracted from: v1 bodies, and the Rekor v2 (0.0.2) ones. */
export const IDENTITY_KINDS = {
  hashedrekord: ['0.0.1', '0.0.2'],
  dsse: ['0.0.1', '0.0.2'],
  intoto: ['0.0.2'],
} as const satisfies Record<string, readonly string[]>;
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
