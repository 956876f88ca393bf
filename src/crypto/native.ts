/**
 * Loader for the digest-verification addon (native/src/digest_verify.c, built by
 * `npm run build:native`, which `npm ci` runs as the root postinstall).
 *
 * The addon is an optimization, never a requirement: when it is missing or fails its
 * known-answer self-test (ABI mismatch, a broken build, an OpenSSL that behaves unexpectedly),
 * `loadDigestAddon()` returns null and the callers fall back to the pure-JS reference, which is
 * slower but gives the same answers. That fallback is announced with one process warning; it is
 * never silent and never wrong.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';

/** An opaque handle owning an OpenSSL EVP_PKEY (freed by the GC finalizer). */
export type NativeKeyHandle = object & { readonly __nativeKey: unique symbol };

export interface DigestAddon {
  /** Parses a DER SubjectPublicKeyInfo; null when OpenSSL cannot. Slow in OpenSSL 3.0 (~150-270 us). */
  parseKey(der: Buffer): NativeKeyHandle | null;
  /** Imports an uncompressed SEC1 point (EVP_PKEY_fromdata, ~35 us); null when not on the curve. */
  parseEcKey(curve: 'P-256' | 'P-384' | 'P-521', point: Buffer): NativeKeyHandle | null;
  /** Imports an RSA public key from big-endian modulus and exponent (~9 us). */
  parseRsaKey(n: Buffer, e: Buffer): NativeKeyHandle | null;
  /** ECDSA (DER signature) or RSA PKCS#1 v1.5 over a precomputed digest; false on any failure. */
  verifyDigest(
    key: NativeKeyHandle,
    digest: Buffer,
    sig: Buffer,
    md: 'sha256' | 'sha384' | 'sha512',
  ): boolean;
  opensslVersion(): string;
}

const ADDON_FILE = join('native', 'build', 'Release', 'vellum_digest_verify.node');

/** The nearest directory at or above `start` holding Vellum's package.json. */
function findRepoRoot(start: string): string | null {
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'vellum') return dir;
      } catch {
        // An unreadable package.json above us is not ours; keep walking.
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** A valid and a corrupted P-256 signature over a fresh digest must verify true and false. */
function selfTest(addon: DigestAddon): string | null {
  try {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const message = Buffer.from('vellum native addon self-test');
    const digest = createHash('sha256').update(message).digest();
    const sig = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const jwk = publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x!, 'base64url'),
      Buffer.from(jwk.y!, 'base64url'),
    ]);
    const bad = Buffer.from(digest);
    bad[0]! ^= 1;
    for (const [how, handle] of [
      ['parseKey', addon.parseKey(der)],
      ['parseEcKey', addon.parseEcKey('P-256', point)],
    ] as const) {
      if (handle === null) return `${how} rejected a valid P-256 key`;
      if (!addon.verifyDigest(handle, digest, sig, 'sha256'))
        return `a valid signature did not verify (${how})`;
      if (addon.verifyDigest(handle, bad, sig, 'sha256'))
        return `a signature over a different digest verified (${how})`;
    }
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

let loaded: { addon: DigestAddon | null; reason: string | null } | undefined;

function warnFallback(reason: string): void {
  // Once per process, not once per thread: the main thread warns if it loads the addon, and of
  // the verification workers only the first one ever started does (a pool of N would otherwise
  // print N copies, and a pool-only process would print none if only the main thread could).
  if (!isMainThread && threadId !== 1) return;
  process.emitWarning(
    `native digest verifier unavailable (${reason}); hashedrekord signatures are verified in pure JavaScript ` +
      '(correct, but ~35x slower). Run `npm run build:native` to build it.',
    { code: 'VELLUM_NO_NATIVE_VERIFY' },
  );
}

function load(): { addon: DigestAddon | null; reason: string | null } {
  const root = findRepoRoot(__dirname);
  if (root === null) return { addon: null, reason: 'repository root not found' };
  const file = join(root, ADDON_FILE);
  if (!existsSync(file)) return { addon: null, reason: `${ADDON_FILE} is not built` };
  let addon: DigestAddon;
  try {
    addon = require(file) as DigestAddon;
  } catch (e) {
    return {
      addon: null,
      reason: `cannot load ${ADDON_FILE}: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  const failure = selfTest(addon);
  if (failure !== null) return { addon: null, reason: `self-test failed: ${failure}` };
  return { addon, reason: null };
}

/** The addon, or null (after one warning) when it cannot be used. Memoized per thread. */
export function loadDigestAddon(): DigestAddon | null {
  if (loaded === undefined) {
    loaded = load();
    if (loaded.addon === null) warnFallback(loaded.reason!);
  }
  return loaded.addon;
}

/** Why the addon is not in use, or null when it is (for boot logs and health output). */
export function digestAddonUnavailableReason(): string | null {
  loadDigestAddon();
  return loaded!.reason;
}
