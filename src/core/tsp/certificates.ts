/**
 * The TSA's certificate chain: a self-signed root and the TSA certificate it issues, built with
 * the X.509 schemas of @peculiar/asn1-x509 (RFC 5280). RFC 3161 section 2.3 requires the TSA
 * certificate to carry exactly one extended key usage, id-kp-timeStamping, marked critical.
 * Chains loaded from files go through `checkTsaChain`, which applies the same rules.
 */
import { createHash } from 'node:crypto';

import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  id_kp_timeStamping,
} from '@peculiar/asn1-x509';

import { VellumError } from '../errors';
import { isCa, parseCertificate, verifyChain, type Certificate as ParsedCertificate } from '../x509';

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';
const OID_ORGANIZATION = '2.5.4.10';

export { id_kp_timeStamping as OID_KP_TIME_STAMPING };

export interface CertificateKey {
  /** SubjectPublicKeyInfo DER of an ECDSA P-256 key. */
  readonly spki: Buffer;
  /** ECDSA with SHA-256 over `data`, DER-encoded. */
  readonly sign: (data: Buffer) => Buffer;
}

export interface TsaChainInput {
  readonly root: CertificateKey;
  readonly leaf: CertificateKey;
  /** The common names; the organization is "Vellum". */
  readonly rootName: string;
  readonly leafName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Random, at most 20 bytes (RFC 5280 4.1.2.2); the top bit is cleared to keep them positive. */
  readonly rootSerial: Buffer;
  readonly leafSerial: Buffer;
}

const ab = (b: Buffer): ArrayBuffer =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

function name(commonName: string): Name {
  const rdn = (type: string, value: string): RelativeDistinguishedName =>
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) }),
    ]);
  return new Name([rdn(OID_ORGANIZATION, 'Vellum'), rdn(OID_COMMON_NAME, commonName)]);
}

function serial(bytes: Buffer): ArrayBuffer {
  if (bytes.length < 1 || bytes.length > 20)
    throw new VellumError('INTERNAL', 'certificate serial: 1 to 20 bytes');
  const b = Buffer.from(bytes);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return ab(b);
}

const keyId = (spki: Buffer): Buffer => {
  const info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  // RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value.
  return createHash('sha1').update(Buffer.from(info.subjectPublicKey)).digest();
};

const ext = (extnID: string, critical: boolean, value: unknown): Extension =>
  new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

function certificate(tbs: TBSCertificate, issuerKey: CertificateKey): Buffer {
  const signature = issuerKey.sign(Buffer.from(AsnConvert.serialize(tbs)));
  return Buffer.from(
    AsnConvert.serialize(
      new Certificate({
        tbsCertificate: tbs,
        signatureAlgorithm: new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 }),
        signatureValue: ab(signature),
      }),
    ),
  );
}

/** A root certificate and the TSA certificate under it, both DER. */
export function buildTsaChain(input: TsaChainInput): { root: Buffer; leaf: Buffer } {
  const validity = new Validity({ notBefore: input.notBefore, notAfter: input.notAfter });
  const rootId = keyId(input.root.spki);
  const sigAlg = new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 });
  const root = certificate(
    new TBSCertificate({
      version: 2,
      serialNumber: serial(input.rootSerial),
      signature: sigAlg,
      issuer: name(input.rootName),
      validity,
      subject: name(input.rootName),
      subjectPublicKeyInfo: AsnConvert.parse(input.root.spki, SubjectPublicKeyInfo),
      extensions: new Extensions([
        ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: true, pathLenConstraint: 0 })),
        ext(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
        ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(ab(rootId))),
      ]),
    }),
    input.root,
  );
  const leaf = certificate(
    new TBSCertificate({
      version: 2,
      serialNumber: serial(input.leafSerial),
      signature: sigAlg,
      issuer: name(input.rootName),
      validity,
      subject: name(input.leafName),
      subjectPublicKeyInfo: AsnConvert.parse(input.leaf.spki, SubjectPublicKeyInfo),
      extensions: new Extensions([
        ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
        ext(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
        ext(id_ce_extKeyUsage, true, new ExtendedKeyUsage([id_kp_timeStamping])),
        ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(ab(keyId(input.leaf.spki)))),
        ext(
          id_ce_authorityKeyIdentifier,
          false,
          new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(ab(rootId)) }),
        ),
      ]),
    }),
    input.root,
  );
  return { root, leaf };
}

const EKU_TIME_STAMPING_ONLY = Buffer.from(AsnConvert.serialize(new ExtendedKeyUsage([id_kp_timeStamping])));

/**
 * Checks a chain for use by the TSA, leaf first: each certificate parses (core/x509), each is
 * signed by the next, the last is a CA, the leaf's key is `spki`, and the leaf carries the
 * critical timeStamping-only EKU. Returns the parsed certificates.
 */
export function checkTsaChain(ders: readonly Buffer[], spki: Buffer): ParsedCertificate[] {
  if (ders.length === 0) throw new VellumError('INVALID_CERTIFICATE', 'TSA chain: no certificates');
  const certs = ders.map((d) => parseCertificate(d));
  const leaf = certs[0]!;
  if (!leaf.spki.equals(spki))
    throw new VellumError('INVALID_CERTIFICATE', 'TSA chain: the first certificate is not for the TSA key');
  const eku = leaf.extensions.find((e) => e.oid === id_ce_extKeyUsage);
  if (eku === undefined || !eku.critical || !eku.value.equals(EKU_TIME_STAMPING_ONLY))
    throw new VellumError(
      'INVALID_CERTIFICATE',
      'TSA chain: the TSA certificate needs a critical extendedKeyUsage of exactly id-kp-timeStamping (RFC 3161 2.3)',
    );
  if (certs.length > 1 && !isCa(certs[certs.length - 1]!))
    throw new VellumError('INVALID_CERTIFICATE', 'TSA chain: the last certificate is not a CA');
  verifyChain(certs);
  return certs;
}
