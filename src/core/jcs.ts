/**
 * RFC 8785 JSON Canonicalization Scheme.
 *
 * ECMAScript already provides the two hard parts exactly as the RFC defines them (the RFC is
 * written against ES): `JSON.stringify(number)` is Number::toString (shortest round-trip form,
 * exponent from 1e21, "-0" -> "0"), and `JSON.stringify(string)` escapes precisely ", \, the
 * control characters (with the short forms \b \t \n \f \r) and nothing else. What is left is what
 * JSON.stringify gets wrong for canonical output: it silently drops or rewrites values (undefined,
 * functions, NaN -> null, toJSON, lone surrogates as \udxxx) and keeps insertion order. Here every
 * such value is an error, and keys are sorted by UTF-16 code units, which is what the default
 * `Array.prototype.sort` comparison does.
 */
import { VellumError } from './errors';
import { isWellFormedUnicode } from './encoding';

function fail(path: string, why: string): never {
  throw new VellumError('INVALID_ARGUMENT', `JCS: ${why} at ${path}`);
}

function serializeString(s: string, path: string): string {
  // RFC 8785 requires I-JSON input, and a lone surrogate has no UTF-8 encoding.
  if (!isWellFormedUnicode(s)) fail(path, 'lone UTF-16 surrogate');
  return JSON.stringify(s);
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function serialize(value: unknown, path: string, stack: Set<object>, out: string[]): void {
  switch (typeof value) {
    case 'string':
      out.push(serializeString(value, path));
      return;
    case 'number':
      if (!Number.isFinite(value)) fail(path, `non-finite number ${String(value)}`);
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object':
      break;
    default:
      // undefined, function, symbol, bigint: JSON has no spelling for them.
      fail(path, `unsupported value of type ${typeof value}`);
  }
  if (value === null) {
    out.push('null');
    return;
  }
  if (stack.has(value)) fail(path, 'cycle');
  stack.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      // Holes read as undefined and are rejected like explicit undefined.
      serialize(value[i], `${path}[${i}]`, stack, out);
    }
    out.push(']');
  } else {
    // Class instances (Date, Buffer, Map, DTOs) would serialise through toJSON or lose data.
    if (!isPlainObject(value)) fail(path, `non-plain object (${value.constructor?.name ?? 'unknown'})`);
    const keys = Object.keys(value).sort();
    out.push('{');
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (i > 0) out.push(',');
      const childPath = `${path}.${k}`;
      out.push(serializeString(k, childPath), ':');
      serialize((value as Record<string, unknown>)[k], childPath, stack, out);
    }
    out.push('}');
  }
  stack.delete(value);
}

/** The RFC 8785 canonical JSON text of `value`; INVALID_ARGUMENT for anything JSON cannot hold exactly. */
export function canonicalize(value: unknown): string {
  const out: string[] = [];
  serialize(value, '$', new Set(), out);
  return out.join('');
}

/** UTF-8 bytes of {@link canonicalize}; these are the bytes that get hashed and signed. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}
