/**
 * Sigstore SigningConfig v0.2 (protobuf-specs `dev.sigstore.trustroot.v1.SigningConfig`,
 * media type `application/vnd.dev.sigstore.signingconfig.v0.2+json`): where a client signs.
 * Vellum lists itself twice, once per face (Rekor v1 API and Rekor v2 write API, same tree), so
 * a client picks the highest `majorApiVersion` it supports.
 */
import { VellumError } from '../errors';
import { checkBaseUrl, checkRfc3339 } from './trusted-root';

export const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';

export interface ServiceJson {
  readonly url: string;
  readonly majorApiVersion: number;
  readonly validFor: { readonly start: string };
  readonly operator: string;
}

export interface ServiceConfigurationJson {
  readonly selector: 'ANY' | 'ALL' | 'EXACT';
  readonly count?: number;
}

export interface SigningConfigJson {
  readonly mediaType: typeof SIGNING_CONFIG_MEDIA_TYPE;
  readonly caUrls: readonly ServiceJson[];
  readonly oidcUrls: readonly ServiceJson[];
  readonly rekorTlogUrls: readonly ServiceJson[];
  readonly rekorTlogConfig: ServiceConfigurationJson;
  readonly tsaUrls: readonly ServiceJson[];
  readonly tsaConfig?: ServiceConfigurationJson;
}

/** Another service (Fulcio, OIDC issuer, TSA) to list beside the log. */
export interface ExternalService {
  readonly url: string;
  readonly majorApiVersion: number;
  /** RFC 3339. */
  readonly validFrom: string;
  readonly operator: string;
}

export interface SigningConfigInput {
  readonly baseUrl: string;
  /** Who runs the log (SigningConfig requires an operator per service); e.g. the URL's host. */
  readonly operator: string;
  /** RFC 3339: when the log was created. */
  readonly validFrom: string;
  readonly caUrls?: readonly ExternalService[];
  readonly oidcUrls?: readonly ExternalService[];
  readonly tsaUrls?: readonly ExternalService[];
}

function service(s: ExternalService, what: string): ServiceJson {
  if (!Number.isSafeInteger(s.majorApiVersion) || s.majorApiVersion < 1) {
    throw new VellumError('INVALID_ARGUMENT', `${what} majorApiVersion must be a positive integer`);
  }
  if (typeof s.operator !== 'string' || s.operator.length === 0) {
    throw new VellumError('INVALID_ARGUMENT', `${what} needs an operator`);
  }
  return {
    url: checkBaseUrl(s.url, `${what} URL`),
    majorApiVersion: s.majorApiVersion,
    validFor: { start: checkRfc3339(s.validFrom, `${what} start`) },
    operator: s.operator,
  };
}

export function buildSigningConfig(input: SigningConfigInput): SigningConfigJson {
  const log = (majorApiVersion: number): ServiceJson =>
    service(
      { url: input.baseUrl, majorApiVersion, validFrom: input.validFrom, operator: input.operator },
      `Rekor v${majorApiVersion}`,
    );
  const base: SigningConfigJson = {
    mediaType: SIGNING_CONFIG_MEDIA_TYPE,
    caUrls: [],
    oidcUrls: [],
    // Highest version first, as the public Sigstore SigningConfig orders it.
    rekorTlogUrls: [log(2), log(1)],
    // One log, one tree: signing into either face is the same; ANY = use one.
    rekorTlogConfig: { selector: 'ANY' },
    tsaUrls: [],
  };
  return extendSigningConfig(base, input);
}

/** Adds Fulcio, OIDC and TSA services to a SigningConfig, e.g. one fetched from the log. */
export function extendSigningConfig(
  config: SigningConfigJson,
  extra: Pick<SigningConfigInput, 'caUrls' | 'oidcUrls' | 'tsaUrls'>,
): SigningConfigJson {
  if (config.mediaType !== SIGNING_CONFIG_MEDIA_TYPE) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `not a SigningConfig v0.2: mediaType ${JSON.stringify(config.mediaType)}`,
    );
  }
  const tsaUrls = [...config.tsaUrls, ...(extra.tsaUrls ?? []).map((s) => service(s, 'TSA'))];
  return {
    ...config,
    caUrls: [...config.caUrls, ...(extra.caUrls ?? []).map((s) => service(s, 'CA'))],
    oidcUrls: [...config.oidcUrls, ...(extra.oidcUrls ?? []).map((s) => service(s, 'OIDC'))],
    tsaUrls,
    ...(tsaUrls.length === 0 ? {} : { tsaConfig: config.tsaConfig ?? { selector: 'ANY' as const } }),
  };
}

/**
 * Keeps only the listed Rekor API versions. Without a TSA, a Rekor v2 entry (no SET, no
 * integrated time) gives a verifier no timestamp, so a client signing without a TSA should be
 * handed the v1 face only; clients otherwise pick the highest version they support.
 */
export function withRekorVersions(config: SigningConfigJson, versions: readonly number[]): SigningConfigJson {
  const rekorTlogUrls = config.rekorTlogUrls.filter((s) => versions.includes(s.majorApiVersion));
  if (rekorTlogUrls.length === 0) {
    throw new VellumError('INVALID_ARGUMENT', `no Rekor service with API version ${versions.join(' or ')}`);
  }
  return { ...config, rekorTlogUrls };
}
