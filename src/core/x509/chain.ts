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

/**
 * Go's crypto/x509 gives one Verify call a budget of 100 signature checks
 * (maxChainSignatureChecks); Vellum gives one entry the same, shared by every chain in it (a DSSE
 * or in-toto entry may carry 16 verifiers, each a chain of up to 10 certificates).
 */
export const MAX_CHAIN_SIGNATURE_CHECKS = 100;

/**
 * The chain-verification work of one entry: how many signatures were checked, against which
 * budget, and the outcome of every (child, parent) pair already checked, so a certificate that
 * appears in several chains of the entry is checked against each parent once.
 */
export class ChainChecks {
  private spent = 0;
  /** child DER -> parent SPKI -> verified; latin1 strings are exact byte-for-byte keys. */
  private readonly outcomes = new Map<string, Map<string, boolean>>();
  private readonly keys = new Map<string, KeyObject | null>();

  constructor(readonly limit: number = MAX_CHAIN_SIGNATURE_CHECKS) {}

  /** Signatures checked so far (memoised pairs count once). */
  get used(): number {
    return this.spent;
  }

  /** Whether `parent`'s key verifies `child`'s signature; the first look at a pair costs one check. */
  verifies(child: Certificate, parent: Certificate): boolean {
    const childKey = child.der.toString('latin1');
    const parentKey = parent.spki.toString('latin1');
    let byParent = this.outcomes.get(childKey);
    const known = byParent?.get(parentKey);
    if (known !== undefined) return known;
    if (this.spent >= this.limit) {
      throw certificateError(
        `x509: signature check attempts limit (${this.limit}) reached while verifying certificate chain`,
      );
    }
    this.spent++;
    const ok = this.check(child, parent, parentKey);
    if (byParent === undefined) this.outcomes.set(childKey, (byParent = new Map()));
    byParent.set(parentKey, ok);
    return ok;
  }

  private check(child: Certificate, parent: Certificate, parentKey: string): boolean {
    let key = this.keys.get(parentKey);
    if (key === undefined) {
      try {
        key = createPublicKey({ key: parent.spki, format: 'der', type: 'spki' });
      } catch {
        key = null;
      }
      this.keys.set(parentKey, key);
    }
    if (key === null) return false;
    try {
      return verify(SIGNATURE_HASH[child.signatureAlgorithm] ?? null, child.tbs, key, child.signature);
    } catch {
      return false;
    }
  }
}

/** Everything but the signature: names chain, the parent may sign certificates, the algorithm is allowed. */
function mayHaveSigned(child: Certificate, parent: Certificate): boolean {
  return (
    child.issuer.equals(parent.subject) &&
    maySignCertificates(parent) &&
    SIGNATURE_HASH[child.signatureAlgorithm] !== undefined
  );
}

/**
 * Throws INVALID_CERTIFICATE ("signed by unknown authority") unless the chain verifies, or when
 * `checks` runs out of budget first.
 *
 * Nothing a path may pass through depends on the path before it (no path length or name
 * constraints are applied), so a path exists exactly when the root is reachable from the leaf in
 * the graph of "is signed by" edges. A breadth-first walk visits each certificate once and checks
 * each (child, parent) pair at most once: fewer than n² signatures for n distinct certificates, where
 * trying every ordering (a leaf, seven CA certificates sharing one name and key, a root that
 * is not a CA) took tens of thousands.
 */
export function verifyChain(certs: readonly Certificate[], checks: ChainChecks = new ChainChecks()): void {
  if (certs.length < 2) return;
  const leaf = certs[0]!;
  const root = certs[certs.length - 1]!;
  if (leaf.der.equals(root.der)) return;
  // A copy of the leaf, of the root or of another intermediate adds no path: drop it.
  const seen = new Set([leaf.der.toString('latin1'), root.der.toString('latin1')]);
  const intermediates: Certificate[] = [];
  for (const c of certs.slice(1, -1)) {
    const k = c.der.toString('latin1');
    if (seen.has(k)) continue;
    seen.add(k);
    intermediates.push(c);
  }
  const at = leaf.notBefore;
  const usable = (c: Certificate): boolean => isCa(c) && c.notBefore <= at && at <= c.notAfter;
  const rootUsable = usable(root);
  const unvisited = new Set(intermediates.filter(usable));
  const frontier: Certificate[] = [leaf];
  for (let i = 0; i < frontier.length; i++) {
    const c = frontier[i]!;
    if (rootUsable && mayHaveSigned(c, root) && checks.verifies(c, root)) return;
    for (const p of unvisited) {
      if (!mayHaveSigned(c, p) || !checks.verifies(c, p)) continue;
      unvisited.delete(p);
      frontier.push(p);
    }
  }
  throw certificateError('x509: certificate signed by unknown authority');
}
