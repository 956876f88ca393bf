/**
 * DSSE envelope verification shared by dsse 0.0.1 and intoto 0.0.2, with the exact acceptance
 * rules of Rekor's `verifyEnvelope` on top of go-securesystemslib's `EnvelopeVerifier.Verify`:
 *
 *  - keys are tried in the order given; each key is parsed only when reached, and a key that
 *    verifies none of the envelope's signatures is an error, not a no-op;
 *  - a key accepts at most ONE signature: the first, in envelope order, that it verifies (the
 *    library removes a provider once it has accepted a signature);
 *  - every distinct signature string must end up accepted by some key;
 *  - signature key IDs are ignored (Rekor's verifier adapters report no key ID);
 *  - payload and signatures are base64, standard alphabet first, URL-safe as a fallback.
 *
 * dsse stops trying keys once every signature is accepted (so later keys are never parsed);
 * intoto 0.0.2 tries them all. The result maps each accepted signature string to the material of
 * the key that accepted it (the last such key, as Go's map assignment does).
 */
import type { SignatureVerifier } from './verifier';
import { isVellumError } from '../errors';
import { ChainChecks, parseVerificationMaterial, type VerificationMaterial } from '../x509';
import { decodeGoBase64, invalidEntry, invalidSignature, pae } from './common';

export interface EnvelopeSignature {
  readonly sig: string;
}

/** Bounds the keys x signatures verification work one hostile entry can cause. */
export const MAX_ENVELOPE_SIGNATURES = 16;
export const MAX_ENVELOPE_KEYS = 16;

const B64_FAILURE = 'unable to base64 decode payload (is payload in the right format?)';

/** go-securesystemslib `b64Decode`; null when neither alphabet decodes it. */
export function dsseB64Decode(s: string): Buffer | null {
  try {
    return decodeGoBase64(s, false);
  } catch {
    try {
      return decodeGoBase64(s, true);
    } catch {
      return null;
    }
  }
}

export interface VerifiedEnvelope {
  readonly bySignature: ReadonlyMap<string, VerificationMaterial>;
  /** The material of every key that was tried, in key order (all of them unless stopped early). */
  readonly keyMaterials: readonly VerificationMaterial[];
  /** The decoded DSSE payload (the bytes the PAE covers). */
  readonly payload: Buffer;
}

export function verifyEnvelope(
  keys: readonly Buffer[],
  payloadType: string,
  payloadB64: string,
  signatures: readonly EnvelopeSignature[],
  verifier: SignatureVerifier,
  stopWhenAllVerified: boolean,
): VerifiedEnvelope {
  if (signatures.length > MAX_ENVELOPE_SIGNATURES) {
    throw invalidEntry(`too many signatures in envelope (at most ${MAX_ENVELOPE_SIGNATURES})`);
  }
  if (keys.length > MAX_ENVELOPE_KEYS)
    throw invalidEntry(`too many verifiers (at most ${MAX_ENVELOPE_KEYS})`);

  const remaining = new Set(signatures.map((s) => s.sig));
  const bySignature = new Map<string, VerificationMaterial>();
  const keyMaterials: VerificationMaterial[] = [];
  let decoded: { payload: Buffer; message: Buffer; sigs: Buffer[] } | undefined;
  // One signature-check budget for all the verifiers' chains together: the bound is per entry.
  const chainChecks = new ChainChecks();

  for (const keyPem of keys) {
    if (stopWhenAllVerified && remaining.size === 0) break;
    let material: VerificationMaterial;
    try {
      material = parseVerificationMaterial(keyPem, true, chainChecks);
    } catch (e) {
      if (isVellumError(e, 'INVALID_CERTIFICATE'))
        throw invalidEntry(`could not parse public key as x509: ${e.message}`);
      throw e;
    }
    keyMaterials.push(material);
    // The library decodes payload and every signature on each Verify call, before verifying any;
    // a decoding failure is fatal whichever key gets there first.
    if (decoded === undefined) {
      const payload = dsseB64Decode(payloadB64);
      if (payload === null) throw invalidEntry(`could not verify envelope: ${B64_FAILURE}`);
      const sigs: Buffer[] = [];
      for (const s of signatures) {
        const b = dsseB64Decode(s.sig);
        if (b === null) throw invalidEntry(`could not verify envelope: ${B64_FAILURE}`);
        sigs.push(b);
      }
      decoded = { payload, message: pae(payloadType, payload), sigs };
    }
    let accepted: string | undefined;
    for (let i = 0; i < signatures.length; i++) {
      if (verifier.verifyMessage(material.key, decoded.message, decoded.sigs[i]!)) {
        accepted = signatures[i]!.sig;
        break;
      }
    }
    if (accepted === undefined) {
      throw invalidSignature(
        'could not verify envelope: accepted signatures do not match threshold, Found: 0, Expected 1',
      );
    }
    remaining.delete(accepted);
    bySignature.set(accepted, material);
  }
  if (remaining.size > 0) throw invalidSignature('all signatures must have a key that verifies it');
  if (decoded === undefined) {
    // Unreachable when at least one key and one signature exist (both are schema-required), but
    // the payload must never be reported as verified without having been decoded.
    throw invalidSignature('all signatures must have a key that verifies it');
  }
  return { bySignature, keyMaterials, payload: decoded.payload };
}
