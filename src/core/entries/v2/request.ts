/**
 * Reading protobuf JSON (`CreateEntryRequest` of Rekor v2, `api/proto/rekor/v2/*.proto`) from
 * attacker input, the way rekor-tiles' HTTP gateway reads it (protojson with DiscardUnknown off):
 *  - a field may be spelled with its JSON name (`hashedRekordRequestV002`) or its proto name
 *    (`hashed_rekord_request_v002`), not both; any other key is refused (400), not ignored;
 *  - `null` is the same as an absent field;
 *  - `bytes` fields are base64. Stricter than protojson, which also takes the URL-safe alphabet
 *    and missing padding: here only RFC 4648 §4 standard base64 with its padding and zero trailing
 *    bits is taken, so every byte string has exactly one spelling in a request.
 * Everything throws INVALID_ENTRY with the JSON path of the offending field.
 */
import { VellumError } from '../../errors';
import { isObject, type JsonObject } from '../common';

/** One message field: its JSON name and, when different, its proto name. */
export type FieldName = readonly [json: string, proto?: string];

/** A malformed v2 request (400). */
export function invalidRequest(message: string): VellumError {
  return new VellumError('INVALID_ENTRY', message);
}

/** A signature that does not verify, or an algorithm Rekor v2 does not allow (400). */
export function badSignature(message: string): VellumError {
  return new VellumError('INVALID_SIGNATURE', message);
}

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Attacker text inside messages is cut short and quoted. */
function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? s.slice(0, 64) + '...' : s);
}

export function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

/** A message value: an object whose keys are all among `fields`. */
export function readMessage(value: unknown, path: string, fields: readonly FieldName[]): JsonObject {
  if (!isObject(value)) throw invalidRequest(`${path}: expected a JSON object`);
  const known = new Set<string>();
  for (const [json, proto] of fields) {
    known.add(json);
    if (proto !== undefined) known.add(proto);
  }
  for (const k of Object.keys(value)) {
    if (!known.has(k)) throw invalidRequest(`${join(path, k)}: unknown field ${quote(k)}`);
  }
  return value;
}

/** A field's value (undefined when absent or null); refuses both spellings at once. */
export function get(message: JsonObject, name: FieldName, path: string): unknown {
  const [json, proto] = name;
  const a = Object.prototype.hasOwnProperty.call(message, json) ? message[json] : undefined;
  const b =
    proto !== undefined && Object.prototype.hasOwnProperty.call(message, proto) ? message[proto] : undefined;
  if (a !== undefined && b !== undefined) throw invalidRequest(`${join(path, json)}: field given twice`);
  const v = a ?? b;
  return v === null ? undefined : v;
}

/** A `bytes` field; undefined when absent. Empty bytes are the protobuf default, i.e. absent too. */
export function readBytes(value: unknown, path: string): Buffer | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidRequest(`${path}: expected a base64 string`);
  if (!STD_BASE64.test(value)) throw invalidRequest(`${path}: not standard padded base64`);
  const bytes = Buffer.from(value, 'base64');
  // Non-zero bits after the last full byte would give the same bytes a second spelling.
  if (bytes.toString('base64') !== value) throw invalidRequest(`${path}: non-canonical base64`);
  return bytes.length === 0 ? undefined : bytes;
}

export function requireBytes(value: unknown, path: string): Buffer {
  const b = readBytes(value, path);
  if (b === undefined) throw invalidRequest(`${path} is required`);
  return b;
}

export function readString(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidRequest(`${path}: expected a string`);
  return value;
}

export function readArray(value: unknown, path: string, max: number): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidRequest(`${path}: expected a JSON array`);
  if (value.length > max) throw invalidRequest(`${path}: too many items (${value.length}, at most ${max})`);
  return value;
}
