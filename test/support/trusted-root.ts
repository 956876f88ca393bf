/**
 * The TrustedRoot JSON (protobuf-specs `sigstore_trustroot.proto`) a sigstore-js client needs to
 * verify Rekor v2 entries from a running Vellum. Built here, from the log's public key alone, until
 * `vellum trust-root` exists: swap this one function for the CLI's output then.
 *
 * Log IDs, computed here independently of src/ (C2SP signed-note, Rekor v2):
 *  - ECDSA: SHA-256(DER SPKI), one ID for both faces;
 *  - Ed25519: the v2 face's ID is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key), the v1 face's SHA-256(DER SPKI).
 * For an Ed25519 log both faces are listed: the v2 item is what the entry's `logId` names, and the
 * v1 item carries the key hint of the checkpoint line signed today (SHA-256(SPKI)[0:4]).
 * @sigstore/verify 3.x tries every tlog for the checkpoint, so the v1 item verifies it until the
 * checkpoint also carries a C2SP-keyed line; then the v2 item alone suffices.
 */
import { createHash } from 'node:crypto';
import type { LogKey } from './verifier';

export function rekorV2LogIdOf(key: LogKey, hostname: string): Buffer {
  if (key.key.asymmetricKeyType !== 'ed25519') return createHash('sha256').update(key.der).digest();
  const raw = key.der.subarray(key.der.length - 32);
  return createHash('sha256')
    .update(Buffer.concat([Buffer.from(hostname, 'utf8'), Buffer.from([0x0a, 0x01]), raw]))
    .digest();
}

export function v2TrustedRootJson(opts: {
  readonly baseUrl: string;
  readonly hostname: string;
  readonly key: LogKey;
  readonly validFrom?: string;
}): Record<string, unknown> {
  const { key } = opts;
  const keyDetails = key.key.asymmetricKeyType === 'ed25519' ? 'PKIX_ED25519' : 'PKIX_ECDSA_P256_SHA_256';
  const tlog = (logId: Buffer) => ({
    baseUrl: opts.baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: {
      rawBytes: key.der.toString('base64'),
      keyDetails,
      validFor: { start: opts.validFrom ?? '2020-01-01T00:00:00Z' },
    },
    logId: { keyId: logId.toString('base64') },
  });
  const v1Id = createHash('sha256').update(key.der).digest();
  const v2Id = rekorV2LogIdOf(key, opts.hostname);
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
    tlogs: v2Id.equals(v1Id) ? [tlog(v2Id)] : [tlog(v2Id), tlog(v1Id)],
  };
}
