/**
 * A C2SP tlog-tiles client written from the spec, independent of the server's code: index
 * encoding, entry-bundle parsing, and the tree rebuilt from bundles with the slow reference
 * Merkle tree of the verifier.
 */
import assert from 'node:assert/strict';
import { leafHashOf, merkleRoot } from './verifier';

export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
export const PARTIAL_CACHE = 'public, max-age=5';

/** "N" of a tile path: 3-digit groups, all but the last prefixed with "x". */
export function encodeIndex(n: number): string {
  let s = String(n);
  while (s.length % 3 !== 0) s = '0' + s;
  const groups = s.match(/.{3}/g)!;
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** Entries of a bundle: each is uint16 big-endian length || bytes. */
export function parseBundle(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < b.length) {
    assert.ok(off + 2 <= b.length, 'bundle truncated in a length prefix');
    const len = b.readUInt16BE(off);
    assert.ok(off + 2 + len <= b.length, 'bundle truncated inside an entry');
    out.push(b.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  return out;
}

export interface RawReply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

export async function getRaw(url: string): Promise<RawReply> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Every entry of a tree of `size`, from its entry bundles (full ones, then the partial edge). */
export async function fetchEntries(base: string, size: number): Promise<Buffer[]> {
  const entries: Buffer[] = [];
  for (let n = 0; n * 256 < size; n++) {
    const width = Math.min(256, size - n * 256);
    const path = `/tile/entries/${encodeIndex(n)}${width < 256 ? `.p/${width}` : ''}`;
    const r = await getRaw(base + path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    assert.equal(r.headers.get('cache-control'), width === 256 ? IMMUTABLE_CACHE : PARTIAL_CACHE, path);
    const bundle = parseBundle(r.body);
    assert.equal(bundle.length, width, `${path} holds ${width} entries`);
    entries.push(...bundle);
  }
  return entries;
}

/** The entries of a tree of `size` and the RFC 6962 root rebuilt from them. */
export async function rootFromBundles(
  base: string,
  size: number,
): Promise<{ entries: Buffer[]; root: Buffer }> {
  const entries = await fetchEntries(base, size);
  return { entries, root: merkleRoot(entries.map(leafHashOf)) };
}
