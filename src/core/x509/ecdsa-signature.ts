/**
 * ECDSA signature encodings (SEC 1 / RFC 3279 Ecdsa-Sig-Value DER, or IEEE P1363 r||s) read the
 * way Go's sigstore ECDSA verifier reads them, so Vellum accepts exactly the signatures Rekor does.
 */
import { isVellumError } from '../errors';
import { TAG, children, encodeSequence, encodeUnsignedInteger, readInteger, readTlv } from '../asn1';

/**
 * Which way Go's sigstore ECDSA verifier will read `sig`: it tries `asn1.Unmarshal` into
 * {R, S *big.Int} and, only if that fails, treats the bytes as IEEE P1363 r||s split in half.
 * asn1.Unmarshal is lenient in two ways that matter: bytes after the SEQUENCE and extra elements
 * inside it do not make it fail (they make the later strict VerifyASN1 fail instead). So "asn1"
 * here means "Go will take the DER path", not "this is valid DER".
 */
export type EcdsaSignatureForm = 'asn1' | 'p1363' | 'bad-p1363';

function goAsn1Parses(sig: Uint8Array): boolean {
  try {
    const seq = readTlv(sig, 0);
    if (seq.tag !== TAG.SEQUENCE) return false;
    const r = readTlv(sig, seq.start, seq.end);
    readInteger(sig, r);
    const s = readTlv(sig, r.end, seq.end);
    readInteger(sig, s);
    return true;
  } catch (e) {
    if (isVellumError(e, 'INVALID_DER')) return false;
    throw e;
  }
}

export function ecdsaSignatureForm(sig: Uint8Array): EcdsaSignatureForm {
  if (goAsn1Parses(sig)) return 'asn1';
  // Go: len 0, odd, or longer than two P-521 scalars is "ecdsa: invalid IEEE_P1363 encoded bytes".
  if (sig.length === 0 || sig.length > 132 || sig.length % 2 !== 0) return 'bad-p1363';
  return 'p1363';
}

/** r and s as big-endian magnitudes, or null when the signature can never verify. */
export function ecdsaSignatureScalars(sig: Uint8Array): { r: Uint8Array; s: Uint8Array } | null {
  const form = ecdsaSignatureForm(sig);
  if (form === 'bad-p1363') return null;
  if (form === 'p1363') {
    const half = sig.length / 2;
    return { r: sig.subarray(0, half), s: sig.subarray(half) };
  }
  // The DER path is strict (Go's ecdsa.VerifyASN1 / OpenSSL's re-encoding check): exactly one
  // SEQUENCE of exactly two positive INTEGERs, nothing after it.
  try {
    const seq = readTlv(sig, 0);
    if (seq.end !== sig.length) return null;
    const parts = children(sig, seq);
    if (parts.length !== 2) return null;
    const r = readInteger(sig, parts[0]!);
    const s = readInteger(sig, parts[1]!);
    if (r.negative || s.negative) return null;
    return { r: r.magnitude, s: s.magnitude };
  } catch (e) {
    if (isVellumError(e, 'INVALID_DER')) return null;
    throw e;
  }
}

/**
 * The strict DER form of any ECDSA signature Go would try to verify (DER as-is when it is valid
 * DER, P1363 converted), or null when no key can verify it. Feeding OpenSSL only this form keeps
 * the fast path's accept/reject decisions identical to the reference's.
 */
export function ecdsaSignatureToDer(sig: Uint8Array): Buffer | null {
  const rs = ecdsaSignatureScalars(sig);
  if (rs === null) return null;
  return encodeSequence(encodeUnsignedInteger(rs.r), encodeUnsignedInteger(rs.s));
}
