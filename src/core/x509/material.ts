/**
 * Verification material in entries, as Rekor's `pkg/pki/x509` reads it: a PEM text holding one
 * PUBLIC KEY, one CERTIFICATE, or a chain of up to 10 CERTIFICATEs (leaf first).
 *  - keys are re-encoded canonically (spki.ts);
 *  - certificates are kept byte for byte (Go re-emits `cert.Raw`), but bytes after one are refused;
 *  - validity is never compared with a clock (Rekor does not check expiry); a chain is verified
 *    at the leaf's NotBefore (chain.ts).
 * Refusals are VellumErrors INVALID_CERTIFICATE with Go's wording; callers add their prefix.
 */
import { pemDecodeAll, pemEncode } from '../encoding';
import { isVellumError } from '../errors';
import { readTlv } from '../asn1';
import { duplicateExtensionOids, parseCertificate, type Certificate } from './certificate';
import { basicConstraintsCa, ChainChecks, keyUsageCertSign, verifyChain } from './chain';
import { OID_FULCIO_OTHERNAME_SAN } from './fulcio';
import {
  OID_SAN,
  decodeIpName,
  decodeOtherNameUtf8,
  decodeTextName,
  parseGeneralNames,
  parseOtherName,
} from './san';
import { certificateError, parseSpki, type ArtifactKey } from './spki';

/** What a `publicKey.content` / DSSE verifier decodes to. */
export interface VerificationMaterial {
  /** The key signatures are checked with: the bare key, or the leaf certificate's key. */
  readonly key: ArtifactKey;
  /** DER certificates, leaf first; empty for a bare public key. */
  readonly certificates: readonly Buffer[];
  /** Go-style PEM of the key or of every certificate (what the canonical body stores). */
  readonly canonicalPem: string;
  /** Leaf certificate SANs in Go's order (DNS, email, IP, URI, Fulcio OtherName); not lowercased. */
  readonly subjects: readonly string[];
}

export const MAX_CHAIN_CERTIFICATES = 10;

const SAN_KIND = { email: 'rfc822Name', dns: 'dNSName', uri: 'uniformResourceIdentifier' } as const;

/**
 * Go's `cert.DNSNames, EmailAddresses, IPAddresses, URIs` plus sigstore's UnmarshalOtherNameSAN:
 * exactly one OtherName, of Fulcio's type with a UTF8String, else no OtherName subject at all.
 * Go refuses the whole certificate for a non-IA5 name or an IP of the wrong length.
 */
function goSubjects(cert: Certificate): string[] {
  const ext = cert.extensions.find((e) => e.oid === OID_SAN);
  if (ext === undefined) return [];
  const byType = { dns: [] as string[], email: [] as string[], ip: [] as string[], uri: [] as string[] };
  const otherNames: string[] = [];
  let otherNameOk = true;
  for (const gn of parseGeneralNames(ext.value)) {
    if (gn.type === 'email' || gn.type === 'dns' || gn.type === 'uri') {
      try {
        byType[gn.type].push(decodeTextName(gn, SAN_KIND[gn.type]));
      } catch {
        throw certificateError(`x509: SAN ${SAN_KIND[gn.type]} is malformed`);
      }
    } else if (gn.type === 'ip') {
      if (gn.bytes.length !== 4 && gn.bytes.length !== 16)
        throw certificateError(`x509: cannot parse IP address of length ${gn.bytes.length}`);
      byType.ip.push(decodeIpName(gn, 'iPAddress'));
    } else if (gn.type === 'otherName') {
      try {
        const other = parseOtherName(gn);
        if (other.oid !== OID_FULCIO_OTHERNAME_SAN) otherNameOk = false;
        else otherNames.push(decodeOtherNameUtf8(other, 'OtherName'));
      } catch (e) {
        if (!isVellumError(e, 'INVALID_DER')) throw e;
        otherNameOk = false;
      }
    }
  }
  const out = [...byType.dns, ...byType.email, ...byType.ip, ...byType.uri];
  if (otherNameOk && otherNames.length === 1) out.push(otherNames[0]!);
  return out;
}

function parseEntryCertificate(der: Buffer): { cert: Certificate; subjects: string[] } {
  try {
    // Go reports bytes after the certificate apart from a malformed one.
    if (readTlv(der, 0).end !== der.length) throw certificateError('x509: trailing data');
  } catch (e) {
    if (!isVellumError(e, 'INVALID_DER')) throw e;
  }
  try {
    const cert = parseCertificate(der);
    if (duplicateExtensionOids(cert).size > 0)
      throw certificateError('x509: certificate contains duplicate extensions');
    // Go parses these two at certificate parse time and refuses a certificate they are bad in.
    basicConstraintsCa(cert);
    keyUsageCertSign(cert);
    return { cert, subjects: goSubjects(cert) };
  } catch (e) {
    if (isVellumError(e, 'INVALID_DER')) throw certificateError('x509: malformed certificate');
    throw e;
  }
}

/**
 * Parses the PEM text of a hashedrekord `publicKey.content` or a DSSE/intoto verifier, like Go's
 * `x509.NewPublicKey` (surrounding whitespace trimmed; more than one block means a chain).
 * With `checkChain`, a multi-certificate chain must verify, spending from `checks` (the entry's
 * signature-check budget when it has several chains; a fresh one otherwise).
 */
export function parseVerificationMaterial(
  pemBytes: Buffer,
  checkChain: boolean,
  checks: ChainChecks = new ChainChecks(),
): VerificationMaterial {
  let blocks: Array<{ type: string; der: Buffer }>;
  try {
    // latin1 keeps one character per byte, so non-ASCII bytes fail the PEM grammar instead of
    // being rewritten to U+FFFD first.
    blocks = pemDecodeAll(pemBytes.toString('latin1'));
  } catch {
    throw certificateError('invalid public key: failure decoding PEM');
  }
  if (blocks.length === 1 && blocks[0]!.type === 'PUBLIC KEY') {
    const key = parseSpki(blocks[0]!.der);
    return { key, certificates: [], canonicalPem: pemEncode('PUBLIC KEY', key.spki), subjects: [] };
  }
  if (blocks.length === 1 && blocks[0]!.type !== 'CERTIFICATE') {
    throw certificateError(`invalid public key: cannot handle type ${blocks[0]!.type}`);
  }
  if (blocks.length > MAX_CHAIN_CERTIFICATES)
    throw certificateError('too many certificates specified in PEM block');
  const parsed = blocks.map((b) => {
    if (b.type !== 'CERTIFICATE') throw certificateError('x509: malformed certificate');
    return parseEntryCertificate(b.der);
  });
  const key = parseSpki(parsed[0]!.cert.spki);
  if (checkChain)
    verifyChain(
      parsed.map((p) => p.cert),
      checks,
    );
  return {
    key,
    certificates: parsed.map((p) => p.cert.der),
    canonicalPem: parsed.map((p) => pemEncode('CERTIFICATE', p.cert.der)).join(''),
    subjects: parsed[0]!.subjects,
  };
}

/**
 * The canonical PEM of a search query's key or certificate chain, the form hashedrekord bodies
 * store (Go `pem.Encode` of the canonical key or of each certificate's bytes); no chain check.
 */
export function canonicalVerifierPem(pemBytes: Buffer): string {
  return parseVerificationMaterial(pemBytes, false).canonicalPem;
}
