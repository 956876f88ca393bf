/**
 * RFC 3161 time-stamp replies: a granted TimeStampResp whose token is a CMS SignedData (RFC 5652)
 * over a TSTInfo, with the signed attributes RFC 3161 section 2.4.2 and RFC 5816 ask for
 * (content-type id-ct-TSTInfo, message-digest, and ESS signing-certificate-v2 naming the TSA
 * certificate by its SHA-256). The signature is made by the caller's `sign` (ECDSA P-256 with
 * SHA-256 over the DER SET OF signed attributes): the key stays outside the core.
 */
import { createHash } from 'node:crypto';

import {
  Attribute,
  CertificateChoices,
  CertificateSet,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
  DigestAlgorithmIdentifiers,
  id_signedData,
} from '@peculiar/asn1-cms';
import {
  AsnArray,
  AsnConvert,
  AsnProp,
  AsnPropTypes,
  AsnType,
  AsnTypeTypes,
  OctetString,
} from '@peculiar/asn1-schema';
import {
  Accuracy,
  MessageImprint,
  PKIStatus,
  PKIStatusInfo,
  TSTInfo,
  TimeStampResp,
  TimeStampToken,
  id_ct_tstInfo,
} from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';

import { VellumError } from '../errors';
import type { TimestampQuery } from './query';
import { unsignedIntegerBytes } from './query';

const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
/** RFC 5035 id-aa-signingCertificateV2. */
const OID_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';

/** RFC 5035 ESSCertIDv2 with the default hash (SHA-256), so hashAlgorithm is omitted. */
@AsnType({ type: AsnTypeTypes.Sequence })
class EssCertIdV2 {
  @AsnProp({ type: OctetString })
  certHash = new OctetString();
  constructor(params: Partial<EssCertIdV2> = {}) {
    Object.assign(this, params);
  }
}

@AsnType({ type: AsnTypeTypes.Sequence, itemType: EssCertIdV2 })
class EssCertIdV2s extends AsnArray<EssCertIdV2> {
  constructor(items?: EssCertIdV2[]) {
    super(items);
    Object.setPrototypeOf(this, EssCertIdV2s.prototype);
  }
}

/** RFC 5035 SigningCertificateV2 (no policies). */
@AsnType({ type: AsnTypeTypes.Sequence })
class SigningCertificateV2 {
  @AsnProp({ type: EssCertIdV2s })
  certs = new EssCertIdV2s();
  constructor(params: Partial<SigningCertificateV2> = {}) {
    Object.assign(this, params);
  }
}

/** The signed attributes as the DER SET OF that the signature covers (RFC 5652 section 5.4). */
@AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })
class SignedAttributesSet extends AsnArray<Attribute> {
  constructor(items?: Attribute[]) {
    super(items);
    Object.setPrototypeOf(this, SignedAttributesSet.prototype);
  }
}

@AsnType({ type: AsnTypeTypes.Choice })
class ObjectIdentifierValue {
  @AsnProp({ type: AsnPropTypes.ObjectIdentifier })
  value = '';
  constructor(value = '') {
    this.value = value;
  }
}

const ab = (b: Buffer): ArrayBuffer =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const der = (o: unknown): Buffer => Buffer.from(AsnConvert.serialize(o));

export interface TimestampSigner {
  /** The TSA certificate (DER) whose key makes the signatures. */
  readonly certificate: Buffer;
  /** Its issuers up to the root (DER), sent after it when the client asks for certificates. */
  readonly chain: readonly Buffer[];
  /** ECDSA P-256 / SHA-256 over `data`, DER-encoded (node:crypto `sign('sha256', ...)`). */
  readonly sign: (data: Buffer) => Buffer;
}

export interface TimestampGrant {
  readonly query: TimestampQuery;
  readonly policyOid: string;
  /** Unique for this TSA, positive. */
  readonly serial: bigint;
  /** The time being attested, in whole seconds (the reply states an accuracy of one second). */
  readonly genTime: Date;
}

/** The DER TimeStampResp granting `grant`, signed by `signer`. */
export function buildTimestampReply(grant: TimestampGrant, signer: TimestampSigner): Buffer {
  if (grant.serial <= 0n) throw new VellumError('INTERNAL', 'timestamp serial must be positive');
  const cert = AsnConvert.parse(signer.certificate, Certificate);
  // Whole seconds keep GeneralizedTime free of a fraction, whose DER form forbids trailing zeros.
  if (grant.genTime.getTime() % 1000 !== 0)
    throw new VellumError('INTERNAL', 'timestamp genTime must be whole seconds');
  const genTime = grant.genTime;
  const tstInfo = new TSTInfo({
    version: 1,
    policy: grant.policyOid,
    messageImprint: new MessageImprint({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: grant.query.hashAlgorithm.oid }),
      hashedMessage: new OctetString(ab(grant.query.digest)),
    }),
    serialNumber: ab(unsignedIntegerBytes(grant.serial)),
    genTime,
    accuracy: new Accuracy({ seconds: 1 }),
    ...(grant.query.nonce === undefined ? {} : { nonce: ab(grant.query.nonce) }),
  });
  const tstInfoDer = der(tstInfo);

  const attribute = (attrType: string, value: Buffer): Attribute =>
    new Attribute({ attrType, attrValues: [ab(value)] });
  const essCert = new SigningCertificateV2({
    certs: new EssCertIdV2s([
      new EssCertIdV2({
        certHash: new OctetString(ab(createHash('sha256').update(signer.certificate).digest())),
      }),
    ]),
  });
  // DER orders a SET OF by the encodings of its members (X.690 11.6).
  const attrs = [
    attribute(OID_CONTENT_TYPE, der(new ObjectIdentifierValue(id_ct_tstInfo))),
    attribute(OID_MESSAGE_DIGEST, der(new OctetString(ab(createHash('sha256').update(tstInfoDer).digest())))),
    attribute(OID_SIGNING_CERTIFICATE_V2, der(essCert)),
  ].sort((a, b) => Buffer.compare(der(a), der(b)));
  const signature = signer.sign(der(new SignedAttributesSet(attrs)));

  const signerInfo = new SignerInfo({
    version: 1,
    sid: new SignerIdentifier({
      issuerAndSerialNumber: new IssuerAndSerialNumber({
        issuer: cert.tbsCertificate.issuer,
        serialNumber: cert.tbsCertificate.serialNumber,
      }),
    }),
    digestAlgorithm: new AlgorithmIdentifier({ algorithm: OID_SHA256 }),
    signedAttrs: attrs,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 }),
    signature: new OctetString(ab(signature)),
  });
  const certificates = grant.query.certReq
    ? new CertificateSet(
        [signer.certificate, ...signer.chain].map(
          (c) => new CertificateChoices({ certificate: AsnConvert.parse(c, Certificate) }),
        ),
      )
    : undefined;
  const signedData = new SignedData({
    version: 3,
    digestAlgorithms: new DigestAlgorithmIdentifiers([new AlgorithmIdentifier({ algorithm: OID_SHA256 })]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: id_ct_tstInfo,
      eContent: new EncapsulatedContent({ single: new OctetString(ab(tstInfoDer)) }),
    }),
    ...(certificates === undefined ? {} : { certificates }),
    signerInfos: new SignerInfos([signerInfo]),
  });
  const token = new TimeStampToken({ contentType: id_signedData, content: AsnConvert.serialize(signedData) });
  return der(
    new TimeStampResp({
      status: new PKIStatusInfo({ status: PKIStatus.granted }),
      timeStampToken: token,
    }),
  );
}

/** The TSTInfo's fields, read back from a reply this module built (for tests and the CLI's checks). */
export function readTimestampReply(reply: Buffer): {
  status: number;
  tstInfo?: TSTInfo;
  signedData?: SignedData;
} {
  const resp = AsnConvert.parse(reply, TimeStampResp);
  if (resp.timeStampToken === undefined) return { status: resp.status.status };
  const info = AsnConvert.parse(resp.timeStampToken.content, SignedData);
  const econtent = info.encapContentInfo.eContent?.single;
  if (econtent === undefined) throw new VellumError('INVALID_DER', 'timestamp token has no TSTInfo');
  return {
    status: resp.status.status,
    tstInfo: AsnConvert.parse(econtent.buffer, TSTInfo),
    signedData: info,
  };
}
