/**
 * subjectAltName (RFC 5280 section 4.2.1.6): GeneralNames read into typed raw names, and the
 * decoders each name type needs. Entry verification (Go's rules: a bad name refuses the whole
 * certificate) and monitoring (a bad name is one unknown value) both start from these.
 */
import {
  TAG,
  checkDerValue,
  children,
  content,
  decodeDerUtf8String,
  decodeIa5,
  derError,
  expectTag,
  readOid,
  readWhole,
  whole,
  type Tlv,
} from '../asn1';
import { DIRECTORY_STRING_TAGS, checkName, checkStringValue } from './certificate';
import { formatIp } from './ip';

export const OID_SAN = '2.5.29.17';

export type GeneralNameType = 'email' | 'dns' | 'uri' | 'ip' | 'otherName' | 'other';

export interface GeneralName {
  readonly type: GeneralNameType;
  /** The identifier octet: 0x81 rfc822Name, 0x82 dNSName, 0x86 URI, 0x87 iPAddress, 0xa0 otherName. */
  readonly tag: number;
  /** Content bytes (for otherName: the content of its IMPLICIT SEQUENCE). */
  readonly bytes: Buffer;
}

const TYPE_BY_TAG: Readonly<Record<number, GeneralNameType>> = {
  0x81: 'email',
  0x82: 'dns',
  0x86: 'uri',
  0x87: 'ip',
  0xa0: 'otherName',
};

/**
 * Every GeneralName choice with its one legal identifier octet: [0] otherName, [3] x400Address,
 * [4] directoryName and [5] ediPartyName are constructed, the rest primitive.
 */
const GENERAL_NAME_TAGS = new Set([0xa0, 0x81, 0x82, 0xa3, 0xa4, 0xa5, 0x86, 0x87, 0x88]);

/** The only child of an EXPLICIT wrapper. */
function explicitInner(buf: Buffer, wrapper: Tlv, what: string): Tlv {
  const [inner, ...rest] = children(buf, wrapper);
  if (inner === undefined) throw derError(`${what}: empty`);
  if (rest.length > 0) throw derError(`${what}: unexpected trailing data`);
  return inner;
}

/** OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }, IMPLICIT [0] on the SEQUENCE. */
function otherNameParts(buf: Buffer, gn: Tlv): { typeId: Tlv; value: Tlv } {
  const [typeId, wrap, ...rest] = children(buf, gn);
  if (rest.length > 0) throw derError('OtherName: unexpected trailing data');
  readOid(buf, expectTag(typeId, TAG.OID, 'OtherName type-id'));
  return {
    typeId: typeId!,
    value: explicitInner(buf, expectTag(wrap, 0xa0, 'OtherName value'), 'OtherName value'),
  };
}

/**
 * ORAddress ::= SEQUENCE { built-in-standard-attributes SEQUENCE, built-in-domain-defined-attributes
 * SEQUENCE SIZE (1..4) OF ... OPTIONAL, extension-attributes SET SIZE (1..256) OF ... OPTIONAL }
 * (RFC 5280 appendix A.1), IMPLICIT [3]: its outline. OpenSSL keeps it opaque.
 */
function checkOrAddress(buf: Buffer, gn: Tlv): void {
  const parts = children(buf, gn);
  let i = 0;
  expectTag(parts[i++], TAG.SEQUENCE, 'x400Address built-in-standard-attributes');
  for (const tag of [TAG.SEQUENCE, TAG.SET]) {
    const p = parts[i];
    if (p?.tag !== tag) continue;
    if (p.end === p.start) throw derError('x400Address: empty attribute list');
    i++;
  }
  if (i !== parts.length) throw derError('x400Address: unexpected trailing data');
}

/** EDIPartyName ::= SEQUENCE { nameAssigner [0] DirectoryString OPTIONAL, partyName [1] DirectoryString }. */
function checkEdiPartyName(buf: Buffer, gn: Tlv): void {
  const parts = children(buf, gn);
  let i = 0;
  // DirectoryString is a CHOICE, so its tags are EXPLICIT even in the IMPLICIT module.
  if (parts[i]?.tag === 0xa0)
    checkStringValue(
      buf,
      explicitInner(buf, parts[i++]!, 'nameAssigner'),
      DIRECTORY_STRING_TAGS,
      'nameAssigner',
    );
  const party = expectTag(parts[i++], 0xa1, 'ediPartyName partyName');
  checkStringValue(buf, explicitInner(buf, party, 'partyName'), DIRECTORY_STRING_TAGS, 'partyName');
  if (i !== parts.length) throw derError('ediPartyName: unexpected trailing data');
}

/**
 * The structure of one GeneralName, per its choice (RFC 5280 section 4.2.1.6), at least as
 * strictly as OpenSSL decodes it: OpenSSL refuses the whole extension for one bad name, and then
 * reports the certificate as having no subjectAltName and as no CA. What is left to the decoders
 * below is what OpenSSL accepts too: the characters of IA5 names and the length of an iPAddress.
 */
function checkGeneralName(buf: Buffer, gn: Tlv): void {
  switch (gn.tag) {
    case 0xa0:
      otherNameParts(buf, gn);
      break;
    case 0xa3:
      checkOrAddress(buf, gn);
      break;
    case 0xa4:
      checkName(buf, explicitInner(buf, gn, 'directoryName'), 'directoryName');
      break;
    case 0xa5:
      checkEdiPartyName(buf, gn);
      break;
    case 0x88:
      readOid(buf, { ...gn, tag: TAG.OID });
      break;
    default:
      if (!GENERAL_NAME_TAGS.has(gn.tag))
        throw derError(`GeneralName: no choice has tag 0x${gn.tag.toString(16)}`);
  }
}

/**
 * The names of a subjectAltName extnValue, in order; at most `max` (more is an error). The whole
 * value must be DER (its universal contents included: see checkDerValue) and every name well
 * formed for its choice, else INVALID_DER.
 */
export function parseGeneralNames(extnValue: Buffer, max = Number.MAX_SAFE_INTEGER): GeneralName[] {
  const seq = readWhole(extnValue, TAG.SEQUENCE, 'GeneralNames');
  checkDerValue(extnValue, seq);
  const out: GeneralName[] = [];
  for (const gn of children(extnValue, seq)) {
    if (out.length >= max) throw derError(`more than ${max} names`);
    checkGeneralName(extnValue, gn);
    out.push({ type: TYPE_BY_TAG[gn.tag] ?? 'other', tag: gn.tag, bytes: content(extnValue, gn) });
  }
  return out;
}

/** rfc822Name, dNSName and URI are IA5String text. Throws INVALID_DER on a non-ASCII byte. */
export function decodeTextName(name: GeneralName, what: string): string {
  return decodeIa5(name.bytes, what);
}

/** An iPAddress SAN: 4 or 16 bytes, formatted as Go's `net.IP.String()`. */
export function decodeIpName(name: GeneralName, what: string): string {
  if (name.bytes.length !== 4 && name.bytes.length !== 16) throw derError(`${what}: length is not 4 or 16`);
  return formatIp(name.bytes);
}

export interface OtherName {
  /** type-id, dotted. */
  readonly oid: string;
  /** The content of the `[0] EXPLICIT` value wrapper: exactly one DER element. */
  readonly value: Buffer;
}

/** An OtherName's parts; a GeneralName from parseGeneralNames has them well formed. */
export function parseOtherName(name: GeneralName): OtherName {
  const b = name.bytes;
  const { typeId, value } = otherNameParts(b, { tag: name.tag, headerStart: 0, start: 0, end: b.length });
  return { oid: readOid(b, typeId), value: whole(b, value) };
}

/** An OtherName's value as one DER UTF8String (Fulcio's username SAN, .1.7). */
export function decodeOtherNameUtf8(other: OtherName, what: string): string {
  return decodeDerUtf8String(other.value, what);
}
