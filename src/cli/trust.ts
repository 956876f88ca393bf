import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pemDecodeAll } from '../core/encoding';
import { isVellumError, VellumError } from '../core/errors';
import { parseCertificate } from '../core/x509';
import {
  extendSigningConfig,
  withRekorVersions,
  type ExternalService,
  type SigningConfigJson,
} from '../core/trust/signing-config';
import {
  checkBaseUrl,
  extendTrustedRoot,
  type CertificateChainInput,
  type TrustedRootJson,
} from '../core/trust/trusted-root';
import { parse, UsageError, withUsage } from './args';

const TRUST_ROOT_USAGE = 'vellum trust-root --server URL [--out FILE] [--fulcio-root PEM] [--tsa-chain PEM]';
const SIGNING_CONFIG_USAGE =
  'vellum signing-config --server URL [--out FILE] [--rekor-api 1|2] [--ca-url URL] [--oidc-url URL] [--tsa-url URL]';

function serverUrl(v: string | boolean | undefined): string {
  if (typeof v !== 'string' || v === '') throw new UsageError('--server URL is required (the running log)');
  const url = v.replace(/\/+$/, '');
  try {
    return checkBaseUrl(url, '--server');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** GET a JSON document from the log; a non-200 answer or non-JSON body is an error naming the URL. */
async function fetchJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' } });
  } catch (e) {
    throw new VellumError('UNAVAILABLE', `cannot reach ${url}: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (res.status !== 200)
    throw new VellumError('UNAVAILABLE', `${url} answered ${res.status}: ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new VellumError('UNAVAILABLE', `${url} did not answer JSON`);
  }
}

/** RFC 3339 to the second. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A PEM file of certificates, intermediate first, root last. The chain is valid from its latest
 * notBefore: before that, some certificate in it was not yet valid. Only the dates are read here
 * (with the one X.509 parser); the certificates are passed on as they are.
 */
function chainFromPem(path: string, option: string): CertificateChainInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${option}: cannot read ${path}: ${(e as Error).message}`);
  }
  let blocks;
  try {
    blocks = pemDecodeAll(text);
  } catch (e) {
    throw new UsageError(`${option}: ${path}: ${(e as Error).message}`);
  }
  const certificates = blocks.filter((b) => b.type === 'CERTIFICATE').map((b) => b.der);
  if (certificates.length === 0 || certificates.length !== blocks.length) {
    throw new UsageError(`${option}: ${path} must hold only CERTIFICATE PEM blocks, at least one`);
  }
  let start = 0;
  for (const der of certificates) {
    let notBefore: number;
    try {
      notBefore = parseCertificate(der).notBefore;
    } catch (e) {
      throw new UsageError(`${option}: ${path}: not a certificate (${(e as Error).message})`);
    }
    start = Math.max(start, notBefore);
  }
  return { certificates, validFrom: rfc3339(new Date(start)) };
}

function externalService(url: string | boolean | undefined, option: string, validFrom: string) {
  if (url === undefined) return [];
  if (typeof url !== 'string') throw new UsageError(`${option} needs a URL`);
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new UsageError(`${option}: ${JSON.stringify(url)} is not a URL`);
  }
  const s: ExternalService = { url, majorApiVersion: 1, validFrom, operator: host };
  return [s];
}

function emit(doc: unknown, out: string | boolean | undefined): void {
  const text = JSON.stringify(doc, null, 2) + '\n';
  if (typeof out === 'string' && out !== '') {
    const path = resolve(out);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    process.stderr.write(`wrote ${path}\n`);
  } else {
    process.stdout.write(text);
  }
}

/**
 * Runs a command body under `withUsage`. Core argument errors (a bad URL, an empty chain) are the
 * user's to fix, so they become usage errors: exit code 2.
 */
function runDocumentCommand(usage: string, body: () => Promise<void>): Promise<number> {
  return withUsage(async () => {
    try {
      await body();
    } catch (e) {
      if (isVellumError(e, 'INVALID_ARGUMENT')) throw new UsageError(e.message);
      throw e;
    }
    return 0;
  }, usage);
}

/** Options both commands take: the running log, and where to write the document. */
const DOCUMENT_OPTIONS = { server: { type: 'string' }, out: { type: 'string' } } as const;

/** `vellum trust-root`: the log's TrustedRoot, from a running server, plus optional CA/TSA chains. */
export function trustRootCommand(argv: string[]): Promise<number> {
  return runDocumentCommand(TRUST_ROOT_USAGE, async () => {
    const args = parse(argv, {
      ...DOCUMENT_OPTIONS,
      'fulcio-root': { type: 'string' },
      'tsa-chain': { type: 'string' },
    });
    const server = serverUrl(args.server);
    const ca =
      typeof args['fulcio-root'] === 'string' ? [chainFromPem(args['fulcio-root'], '--fulcio-root')] : [];
    const tsa = typeof args['tsa-chain'] === 'string' ? [chainFromPem(args['tsa-chain'], '--tsa-chain')] : [];
    const root = (await fetchJson(`${server}/api/v1/trustedRoot`)) as TrustedRootJson;
    emit(extendTrustedRoot(root, { certificateAuthorities: ca, timestampAuthorities: tsa }), args.out);
  });
}

/** `vellum signing-config`: the log's SigningConfig v0.2, plus optional Fulcio/OIDC/TSA services. */
export function signingConfigCommand(argv: string[]): Promise<number> {
  return runDocumentCommand(SIGNING_CONFIG_USAGE, async () => {
    const args = parse(argv, {
      ...DOCUMENT_OPTIONS,
      'ca-url': { type: 'string' },
      'oidc-url': { type: 'string' },
      'tsa-url': { type: 'string' },
      'rekor-api': { type: 'string' },
    });
    const api = args['rekor-api'];
    if (api !== undefined && api !== '1' && api !== '2') {
      throw new UsageError(`--rekor-api must be 1 or 2, got ${JSON.stringify(api)}`);
    }
    const server = serverUrl(args.server);
    const config = (await fetchJson(`${server}/api/v1/signingConfig`)) as SigningConfigJson;
    // Extra services are listed as valid from the log's own start.
    const validFrom = config.rekorTlogUrls?.[0]?.validFor?.start;
    if (typeof validFrom !== 'string')
      throw new Error(`${server} answered a SigningConfig without rekorTlogUrls`);
    const faces = api === undefined ? config : withRekorVersions(config, [Number(api)]);
    emit(
      extendSigningConfig(faces, {
        caUrls: externalService(args['ca-url'], '--ca-url', validFrom),
        oidcUrls: externalService(args['oidc-url'], '--oidc-url', validFrom),
        tsaUrls: externalService(args['tsa-url'], '--tsa-url', validFrom),
      }),
      args.out,
    );
  });
}
