/**
 * subjectAltName (RFC 5280 section 4.2.1.6): GeneralNames read into typed raw names, and the
 * decoders each name type needs. Entry verification (Go's rules: a bad name refuses the whole
 * certificate) and monitoring (a bad name is one unknown value) both start from these.
 */
import {
  TAG,
  children,
  content,
  decodeDerUtf8String,
  decodeIa5,
  derError,
  expectTag,
  readOid,
  readWhole,
  type Tlv,
} from '../asn1';
import { checkName } from './certificate';
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

/**
 * The names of a subjectAltName extnValue, in order; at most `max` (more is an error). A choice
 * that does not exist or has the wrong constructed bit is INVALID_DER, as OpenSSL has it.
 */
export function parseGeneralNames(extnValue: Buffer, max = Number.MAX_SAFE_INTEGER): GeneralName[] {
  const seq = readWhole(extnValue, TAG.SEQUENCE, 'GeneralNames');
  const out: GeneralName[] = [];
  for (const gn of children(extnValue, seq)) {
    if (out.length >= max) throw derError(`more than ${max} names`);
    if (!GENERAL_NAME_TAGS.has(gn.tag))
      throw derError(`GeneralName: no choice has tag 0x${gn.tag.toString(16)}`);
    // directoryName is [4] EXPLICIT Name; registeredID an IMPLICIT OID.
    if (gn.tag === 0xa4) {
      const [n, ...rest] = children(extnValue, gn);
      if (rest.length > 0) throw derError('directoryName: unexpected trailing data');
      checkName(extnValue, n, 'directoryName');
    }
    if (gn.tag === 0x88) readOid(extnValue, { ...gn, tag: TAG.OID });
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
  /** The content of the `[0] EXPLICIT` value wrapper: one DER element for a well-formed name. */
  readonly value: Buffer;
}

/** OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY } (IMPLICIT [0] on the SEQUENCE). */
export function parseOtherName(name: GeneralName): OtherName {
  const b = name.bytes;
  const whole: Tlv = { tag: name.tag, headerStart: 0, start: 0, end: b.length };
  const [typeId, wrap, ...rest] = children(b, whole);
  if (rest.length > 0) throw derError('OtherName: unexpected trailing data');
  const oid = readOid(b, expectTag(typeId, TAG.OID, 'OtherName type-id'));
  return { oid, value: content(b, expectTag(wrap, 0xa0, 'OtherName value')) };
}

/** An OtherName's value as one DER UTF8String (Fulcio's username SAN, .1.7). */
export function decodeOtherNameUtf8(other: OtherName, what: string): string {
  return decodeDerUtf8String(other.value, what);
}
