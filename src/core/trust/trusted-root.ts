/**
 * Sigstore TrustedRoot (protobuf-specs `dev.sigstore.trustroot.v1.TrustedRoot`, JSON media type
 * version 0.1) describing one Vellum log, in the protobuf-JSON form clients load: camelCase
 * fields, bytes as standard base64, enums by name, timestamps as RFC 3339.
 */
import { VellumError } from '../errors';
import type { LogPublicKey } from '../keys';
import { rekorV2LogId } from '../checkpoint';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

export interface TimeRangeJson {
  readonly start: string;
  readonly end?: string;
}

export interface TransparencyLogInstanceJson {
  readonly baseUrl: string;
  readonly hashAlgorithm: 'SHA2_256';
  readonly publicKey: {
    readonly rawBytes: string;
    readonly keyDetails: 'PKIX_ECDSA_P256_SHA_256' | 'PKIX_ED25519';
    readonly validFor: TimeRangeJson;
  };
  readonly logId: { readonly keyId: string };
}

export interface CertificateAuthorityJson {
  readonly uri?: string;
  readonly certChain: { readonly certificates: ReadonlyArray<{ readonly rawBytes: string }> };
  readonly validFor: TimeRangeJson;
}

export interface TrustedRootJson {
  readonly mediaType: typeof TRUSTED_ROOT_MEDIA_TYPE;
  readonly tlogs: readonly TransparencyLogInstanceJson[];
  readonly certificateAuthorities: readonly CertificateAuthorityJson[];
  readonly ctlogs: readonly TransparencyLogInstanceJson[];
  readonly timestampAuthorities: readonly CertificateAuthorityJson[];
}

/** A certificate chain to trust (Fulcio CA or TSA), leaf or intermediate first, root last. */
export interface CertificateChainInput {
  /** DER certificates. */
  readonly certificates: readonly Uint8Array[];
  /** RFC 3339; from the caller, who reads it off the certificates (the core has no X.509 clock). */
  readonly validFrom: string;
  readonly uri?: string;
}

export interface TrustedRootInput {
  /** The log's public base URL; sigstore-js requires it to contain the checkpoint signer name. */
  readonly baseUrl: string;
  /** LOG_HOSTNAME: the checkpoint signer name, part of the Ed25519 v2 log ID. */
  readonly signerName: string;
  readonly logKey: LogPublicKey;
  /** RFC 3339: when the log was created (no entry is older). */
  readonly validFrom: string;
  readonly certificateAuthorities?: readonly CertificateChainInput[];
  readonly timestampAuthorities?: readonly CertificateChainInput[];
}

/** RFC 3339 in UTC with an optional fraction, as protobuf-JSON Timestamps are written. */
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

export function checkRfc3339(value: string, what: string): string {
  if (typeof value !== 'string' || !RFC3339_UTC.test(value)) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `${what} must be an RFC 3339 UTC time, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** An http(s) URL without query, fragment or trailing slash (clients append API paths to it). */
export function checkBaseUrl(url: string, what: string): string {
  if (typeof url !== 'string' || !/^https?:\/\/[^\s/?#]+(?:\/[^\s?#]*)?$/.test(url) || url.endsWith('/')) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `${what} must be an http(s) URL without query, fragment or trailing slash, got ${JSON.stringify(url)}`,
    );
  }
  return url;
}

function chains(
  list: readonly CertificateChainInput[] | undefined,
  what: string,
): CertificateAuthorityJson[] {
  return (list ?? []).map((c, i) => {
    if (c.certificates.length === 0) {
      throw new VellumError('INVALID_ARGUMENT', `${what} ${i + 1} has no certificates`);
    }
    return {
      ...(c.uri === undefined ? {} : { uri: checkBaseUrl(c.uri, `${what} ${i + 1} URI`) }),
      certChain: {
        certificates: c.certificates.map((d) => ({ rawBytes: Buffer.from(d).toString('base64') })),
      },
      validFor: { start: checkRfc3339(c.validFrom, `${what} ${i + 1} start`) },
    };
  });
}

/**
 * The log's `tlogs` entries. ECDSA: one, since both faces use logID = SHA-256(SPKI) and
 * checkpoint hint logID[0:4]. Ed25519: two with the same key, one per log ID: the v1 face's
 * SHA-256(SPKI) (SETs and the Rekor-style checkpoint line) and the v2 face's C2SP key hash
 * (TransparencyLogEntry.logId and the C2SP checkpoint line). One entry with `checkpointKeyId`
 * would not do: @sigstore/verify 3.x (trust/index.js createTLogAuthority) takes
 * `checkpointKeyId ?? logId` as the single ID for both the SET lookup and the checkpoint hint,
 * so v1 SETs, which name SHA-256(SPKI), would find no authority.
 */
export function logTlogInstances(input: TrustedRootInput): TransparencyLogInstanceJson[] {
  const { logKey } = input;
  const publicKey = {
    rawBytes: logKey.der.toString('base64'),
    keyDetails:
      logKey.algorithm === 'ed25519' ? ('PKIX_ED25519' as const) : ('PKIX_ECDSA_P256_SHA_256' as const),
    validFor: { start: checkRfc3339(input.validFrom, 'log validFrom') },
  };
  const instance = (logId: Buffer): TransparencyLogInstanceJson => ({
    baseUrl: checkBaseUrl(input.baseUrl, 'log base URL'),
    hashAlgorithm: 'SHA2_256',
    publicKey,
    logId: { keyId: logId.toString('base64') },
  });
  const v2 = rekorV2LogId(logKey, input.signerName);
  return v2.equals(logKey.logId) ? [instance(logKey.logId)] : [instance(logKey.logId), instance(v2)];
}

export function buildTrustedRoot(input: TrustedRootInput): TrustedRootJson {
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: logTlogInstances(input),
    certificateAuthorities: chains(input.certificateAuthorities, 'certificate authority'),
    // Vellum runs no certificate transparency log; a Fulcio deployment's CT logs belong to it.
    ctlogs: [],
    timestampAuthorities: chains(input.timestampAuthorities, 'timestamp authority'),
  };
}

/**
 * Adds certificate authorities (a Fulcio chain) and timestamp authorities (a TSA chain) to a
 * TrustedRoot, e.g. one fetched from the log, for keyless signing or RFC 3161 timestamps.
 */
export function extendTrustedRoot(
  root: TrustedRootJson,
  extra: Pick<TrustedRootInput, 'certificateAuthorities' | 'timestampAuthorities'>,
): TrustedRootJson {
  if (root.mediaType !== TRUSTED_ROOT_MEDIA_TYPE) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `not a TrustedRoot: mediaType ${JSON.stringify(root.mediaType)}`,
    );
  }
  return {
    ...root,
    certificateAuthorities: [
      ...root.certificateAuthorities,
      ...chains(extra.certificateAuthorities, 'certificate authority'),
    ],
    timestampAuthorities: [
      ...root.timestampAuthorities,
      ...chains(extra.timestampAuthorities, 'timestamp authority'),
    ],
  };
}
