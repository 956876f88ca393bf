/**
 * Certificate chains as Go's `cert.Verify` checks them for Rekor (Roots = {last certificate},
 * Intermediates = the middle ones, any key usage) at the leaf's NotBefore, so no clock is needed:
 * a path must lead from the leaf to the root through CA certificates whose validity covers that
 * instant, whose subject is the child's issuer (byte for byte, as Go's pool lookup compares them),
 * whose keyUsage (when present) allows certificate signing, and whose key verifies the child's
 * signature. Signatures are checked by node:crypto over the TBS bytes our parser cut out.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { TAG, children, derError, readBoolean, readInteger, readWhole } from '../asn1';
import type { Certificate } from './certificate';
import { certificateError } from './spki';

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';

/** Signature algorithms Go's x509 verifies chains with; RSA-PSS and DSA are not accepted. */
const SIGNATURE_HASH: Readonly<Record<string, string | null>> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null,
};

/**
 * basicConstraints (RFC 5280 section 4.2.1.9): SEQUENCE { cA BOOLEAN DEFAULT FALSE,
 * pathLenConstraint INTEGER OPTIONAL }. Throws INVALID_DER when present but not DER.
 */
export function basicConstraintsCa(cert: Certificate): boolean {
  const [ext, ...more] = cert.extensions.filter((e) => e.oid === OID_BASIC_CONSTRAINTS);
  if (ext === undefined) return false;
  if (more.length > 0) throw derError('basicConstraints: duplicated');
  const parts = children(ext.value, readWhole(ext.value, TAG.SEQUENCE, 'basicConstraints'));
  let i = 0;
  let ca = false;
  if (parts[i]?.tag === TAG.BOOLEAN) ca = readBoolean(ext.value, parts[i++]!);
  if (parts[i]?.tag === TAG.INTEGER) {
    if (readInteger(ext.value, parts[i++]!).negative)
      throw derError('basicConstraints: negative path length');
  }
  if (i !== parts.length) throw derError('basicConstraints: unexpected field');
  return ca;
}

/**
 * keyUsage (RFC 5280 section 4.2.1.3), a BIT STRING: whether keyCertSign (bit 5) is set, or
 * undefined when the extension is absent. Throws INVALID_DER when present but not DER.
 */
export function keyUsageCertSign(cert: Certificate): boolean | undefined {
  const [ext, ...more] = cert.extensions.filter((e) => e.oid === OID_KEY_USAGE);
  if (ext === undefined) return undefined;
  if (more.length > 0) throw derError('keyUsage: duplicated');
  const bits = readWhole(ext.value, TAG.BIT_STRING, 'keyUsage');
  const len = bits.end - bits.start;
  if (len < 1 || ext.value[bits.start]! > 7 || (len === 1 && ext.value[bits.start] !== 0))
    throw derError('keyUsage: bad BIT STRING');
  return len >= 2 && (ext.value[bits.start + 1]! & 0x04) !== 0;
}

/** basicConstraints cA; a malformed extension counts as not a CA. */
export function isCa(cert: Certificate): boolean {
  try {
    return basicConstraintsCa(cert);
  } catch {
    return false;
  }
}

/** keyUsage allows certificate signing, or is absent; a malformed one allows nothing. */
function maySignCertificates(cert: Certificate): boolean {
  try {
    return keyUsageCertSign(cert) !== false;
  } catch {
    return false;
  }
}

function signedBy(
  child: Certificate,
  parent: Certificate,
  keys: Map<Certificate, KeyObject | null>,
): boolean {
  if (!child.issuer.equals(parent.subject) || !maySignCertificates(parent)) return false;
  const hash = SIGNATURE_HASH[child.signatureAlgorithm];
  if (hash === undefined) return false;
  let key = keys.get(parent);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: parent.spki, format: 'der', type: 'spki' });
    } catch {
      key = null;
    }
    keys.set(parent, key);
  }
  if (key === null) return false;
  try {
    return verify(hash, child.tbs, key, child.signature);
  } catch {
    return false;
  }
}

/** Throws INVALID_CERTIFICATE ("signed by unknown authority") unless the chain verifies. */
export function verifyChain(certs: readonly Certificate[]): void {
  if (certs.length < 2) return;
  const leaf = certs[0]!;
  const root = certs[certs.length - 1]!;
  if (leaf.der.equals(root.der)) return;
  const intermediates = certs.slice(1, -1);
  const at = leaf.notBefore;
  const usable = (c: Certificate): boolean => isCa(c) && c.notBefore <= at && at <= c.notAfter;
  const keys = new Map<Certificate, KeyObject | null>();
  const search = (c: Certificate, path: Set<Certificate>): boolean => {
    if (usable(root) && signedBy(c, root, keys)) return true;
    for (const p of intermediates) {
      if (path.has(p) || !usable(p) || !signedBy(c, p, keys)) continue;
      path.add(p);
      if (search(p, path)) return true;
      path.delete(p);
    }
    return false;
  };
  if (!search(leaf, new Set([leaf]))) throw certificateError('x509: certificate signed by unknown authority');
}
