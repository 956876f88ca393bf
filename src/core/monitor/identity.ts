/**
 * Identity extraction for monitoring (docs/monitoring.md, "Fields"): from a canonical entry body, every
 * signer's certificate identity (SANs, Fulcio extensions, issuer) or bare-key fingerprint.
 *
 * Entry fields are hostile. Parsing is fail-safe: anything that cannot be decoded is reported as a
 * `malformed` reason (never skipped, never thrown), values are capped at MAX_VALUE_LENGTH and kept
 * raw; use `escapeForDisplay` before putting any of them into human-facing text. The only throws
 * are VellumErrors for bodies that are not JSON objects of a supported kind. Certificates and keys
 * are read by core/x509, the parser entry verification uses too.
 */
import { VellumError } from '../errors';
import { decodeBase64Strict, pemDecodeAll } from '../encoding';
import {
  FULCIO_ARC,
  OID_FULCIO_OTHERNAME_SAN,
  checkSpkiStructure,
  fulcioFieldByName,
  isDerSequence,
  looksLikeCertificate,
} from '../x509';
import { certificateIdentity, errMessage, sha256hex } from './certificate-identity';
import {
  IDENTITY_KINDS,
  LIMITS,
  type CertificateIdentity,
  type EntryIdentity,
  type ExtensionValue,
  type IdentityKind,
  type MalformedReason,
  type SanValue,
  type SignerIdentity,
} from './identity-types';

export { escapeForDisplay, capLength, MAX_VALUE_LENGTH } from './display';
export type { DisplayTarget } from './display';
export * from './identity-types';
export { certificateIdentity } from './certificate-identity';

const V2_DIGEST_ALGORITHMS: Readonly<Record<string, { name: string; size: number }>> = {
  SHA2_256: { name: 'sha256', size: 32 },
  SHA2_384: { name: 'sha384', size: 48 },
  SHA2_512: { name: 'sha512', size: 64 },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Extracts the identities of a canonical entry body (hashedrekord and dsse 0.0.1 and 0.0.2, intoto 0.0.2),
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
  if (!(IDENTITY_KINDS[k] as readonly unknown[]).includes(apiVersion)) {
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

  // A list of signatures that must not be empty; each one's verifier is taken by `take`.
  const signatures = (
    sigs: unknown,
    path: string,
    take: (p: string, sig: Record<string, unknown>) => void,
  ) => {
    if (!need(Array.isArray(sigs) && sigs.length > 0, path, 'missing or empty') || !Array.isArray(sigs))
      return;
    sigs.forEach((sig, i) => {
      const p = `${path}[${i}]`;
      if (need(isObject(sig), p, 'not an object') && isObject(sig)) take(p, sig);
    });
  };
  const push = (path: string, value: unknown): number => verifiers.push({ path, value });

  // Rekor v2 bodies name a digest by protobuf-specs HashAlgorithm and carry it in base64.
  const v2Digest = (h: unknown): void => {
    if (!isObject(h) || typeof h.algorithm !== 'string' || typeof h.digest !== 'string') return;
    if (!Object.hasOwn(V2_DIGEST_ALGORITHMS, h.algorithm)) return;
    const alg = V2_DIGEST_ALGORITHMS[h.algorithm]!;
    let bytes: Buffer;
    try {
      bytes = decodeBase64Strict(h.digest, 'digest');
    } catch {
      return;
    }
    if (bytes.length !== alg.size) return;
    const d = `${alg.name}:${bytes.toString('hex')}`;
    if (!digests.includes(d)) digests.push(d);
  };
  // A v2 verifier is {keyDetails, publicKey | x509Certificate: {rawBytes}}; rawBytes is base64 DER.
  const v2Verifier = (path: string, v: unknown): void => {
    const slot = isObject(v) ? (isObject(v.x509Certificate) ? 'x509Certificate' : 'publicKey') : 'publicKey';
    const holder = isObject(v) ? v[slot] : undefined;
    push(`${path}.${slot}.rawBytes`, isObject(holder) ? holder.rawBytes : undefined);
  };

  if (need(isObject(spec), 'spec', 'missing or not an object') && isObject(spec)) {
    if (k === 'hashedrekord' && apiVersion === '0.0.2') {
      const v2 = spec.hashedRekordV002;
      if (need(isObject(v2), 'spec.hashedRekordV002', 'missing') && isObject(v2)) {
        const sig = v2.signature;
        if (need(isObject(sig), 'spec.hashedRekordV002.signature', 'missing') && isObject(sig))
          v2Verifier('spec.hashedRekordV002.signature.verifier', sig.verifier);
        v2Digest(v2.data);
      }
    } else if (k === 'dsse' && apiVersion === '0.0.2') {
      const v2 = spec.dsseV002;
      signatures(isObject(v2) ? v2.signatures : undefined, 'spec.dsseV002.signatures', (p, sig) =>
        v2Verifier(`${p}.verifier`, sig.verifier),
      );
      if (isObject(v2)) v2Digest(v2.payloadHash);
    } else if (k === 'hashedrekord') {
      const sig = spec.signature;
      const pk = isObject(sig) ? sig.publicKey : undefined;
      if (need(isObject(pk), 'spec.signature.publicKey', 'missing') && isObject(pk))
        push('spec.signature.publicKey.content', pk.content);
      if (isObject(spec.data)) digest(spec.data.hash);
    } else if (k === 'dsse') {
      signatures(spec.signatures, 'spec.signatures', (p, sig) => push(`${p}.verifier`, sig.verifier));
      digest(spec.payloadHash);
      digest(spec.envelopeHash);
    } else {
      const c = spec.content;
      const env = isObject(c) ? c.envelope : undefined;
      signatures(isObject(env) ? env.signatures : undefined, 'spec.content.envelope.signatures', (p, sig) =>
        push(`${p}.publicKey`, sig.publicKey),
      );
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
    } else if (isDerSequence(bytes)) {
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
      checkSpkiStructure(first.der);
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
  const cert = certificateIdentity(first.der, `${path} certificate[0]`, malformed);
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
