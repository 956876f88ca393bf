/**
 * Certificate chains as Go's `cert.Verify` checks them for Rekor (Roots = {last certificate},
 * Intermediates = the middle ones, any key usage) at the leaf's NotBefore, so no clock is needed:
 * a path must lead from the leaf to the root through CA certificates whose validity covers that
 * instant, whose subject is the child's issuer (byte for byte, as Go's pool lookup compares them),
 * whose keyUsage (when present) allows certificate signing, and whose key verifies the child's
 * signature. Signatures are checked by node:crypto over the TBS bytes our parser cut out.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { TAG, children, readBoolean, readTlv } from '../asn1';
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

/** basicConstraints cA (DEFAULT FALSE); a malformed extension counts as not a CA. */
export function isCa(cert: Certificate): boolean {
  const ext = cert.extensions.find((e) => e.oid === OID_BASIC_CONSTRAINTS);
  if (ext === undefined) return false;
  try {
    const seq = readTlv(ext.value, 0);
    if (seq.tag !== TAG.SEQUENCE || seq.end !== ext.value.length) return false;
    const first = children(ext.value, seq)[0];
    return first?.tag === TAG.BOOLEAN && readBoolean(ext.value, first);
  } catch {
    return false;
  }
}

/** keyUsage keyCertSign (bit 5), or true when the extension is absent. */
function maySignCertificates(cert: Certificate): boolean {
  const ext = cert.extensions.find((e) => e.oid === OID_KEY_USAGE);
  if (ext === undefined) return true;
  try {
    const bits = readTlv(ext.value, 0);
    if (bits.tag !== TAG.BIT_STRING || bits.end !== ext.value.length || bits.end - bits.start < 2)
      return false;
    return (ext.value[bits.start + 1]! & 0x04) !== 0;
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
