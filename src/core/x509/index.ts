/**
 * The one parser for attacker-supplied X.509 material, used by entry verification and monitoring:
 * certificates (certificate.ts), SANs (san.ts), Fulcio extensions (fulcio.ts), IP addresses
 * (ip.ts), public keys (spki.ts), entry verification material and chains (material.ts, chain.ts),
 * ECDSA signature encodings (ecdsa-signature.ts). All DER goes through core/asn1.
 */
export * from './certificate';
export * from './chain';
export * from './ecdsa-signature';
export * from './fulcio';
export * from './ip';
export * from './material';
export * from './san';
export * from './spki';
