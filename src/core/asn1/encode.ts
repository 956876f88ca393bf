/** The DER encoders the log needs to re-emit canonical keys and signatures (X.690 definite form). */

export function encodeLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function encodeTlv(tag: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

export function encodeSequence(...parts: Uint8Array[]): Buffer {
  return encodeTlv(0x30, Buffer.concat(parts));
}

/** Minimal DER INTEGER for a non-negative big-endian magnitude. */
export function encodeUnsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let body = Buffer.from(magnitude.subarray(i));
  if (body.length === 0) body = Buffer.from([0]);
  if (body[0]! >= 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return encodeTlv(0x02, body);
}

/** BIT STRING with no unused bits (every key and signature encoding is whole bytes). */
export function encodeBitString(bytes: Uint8Array): Buffer {
  return encodeTlv(0x03, Buffer.concat([Buffer.from([0]), bytes]));
}
