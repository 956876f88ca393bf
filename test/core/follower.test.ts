/**
 * The core LogFollower over the tile LeafSource, against an in-memory tile server built here with
 * the slow reference Merkle tree (test/support/verifier): every tile hash is an MTH of a leaf
 * slice, so neither the served tiles nor the expected roots come from the code under test.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  formatCheckpoint,
  rekorNoteSigner,
  signRekorCheckpoint,
  verifyRekorCheckpoint,
} from '../../src/core/checkpoint';
import { isVellumError } from '../../src/core/errors';
import { CompactRange } from '../../src/core/follower/compact-range';
import {
  LogFollower,
  type FollowerPosition,
  type VerifiedBatch,
  type VerifiedEntry,
} from '../../src/core/follower/log-follower';
import { TileLeafSource } from '../../src/core/follower/tile-leaf-source';
import { LogSigningKey } from '../../src/core/keys';
import { signNote } from '../../src/core/note';
import { encodeIndex } from '../support/tile-client';
import { leafHashOf, merkleRoot } from '../support/verifier';

const NAME = 'follower.test';
const ORIGIN = `${NAME} - 42`;
const key = LogSigningKey.generate();

/** A log of `bodies` served as C2SP tiles; `tamper` may rewrite any resource. */
class FakeTileLog {
  bodies: Buffer[] = [];
  size = 0;
  note = '';
  reads: string[] = [];
  tamper: (path: string, bytes: Buffer) => Buffer = (_p, b) => b;

  append(n: number): void {
    for (let i = 0; i < n; i++) this.bodies.push(randomBytes(20 + (i % 50)));
    this.publish(this.bodies.length);
  }

  publish(
    size: number,
    root = merkleRoot(this.bodies.slice(0, size).map(leafHashOf)),
    extraSigner = false,
  ): void {
    this.size = size;
    const cp = { origin: ORIGIN, size, rootHash: root, extensions: [] };
    this.note = extraSigner
      ? signNote(formatCheckpoint(cp), [
          rekorNoteSigner(NAME, key),
          { name: 'witness.example', keyId: 0x01020304, sign: () => randomBytes(64) },
        ])
      : signRekorCheckpoint(cp, key, NAME);
  }

  /** Reference MTH of leaves [start, end). */
  private node(start: number, end: number): Buffer {
    return merkleRoot(this.bodies.slice(start, end).map(leafHashOf));
  }

  fetch(path: string): Buffer {
    this.reads.push(path);
    const m = /^tile\/(entries|[0-9]+)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([0-9]+))?$/.exec(path);
    assert.ok(m, `bad path ${path}`);
    const n = Number(m[2]!.replace(/x|\//g, ''));
    assert.equal(encodeIndex(n), m[2], 'canonical index encoding');
    const w = m[3] === undefined ? 256 : Number(m[3]);
    if (m[1] === 'entries') {
      assert.ok(n * 256 + w <= this.size, `bundle ${path} beyond the tree`);
      const parts = this.bodies.slice(n * 256, n * 256 + w).map((b) => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(b.length);
        return Buffer.concat([len, b]);
      });
      return this.tamper(path, Buffer.concat(parts));
    }
    const span = Math.pow(256, Number(m[1]));
    const hashes: Buffer[] = [];
    for (let j = n * 256; j < n * 256 + w; j++) {
      assert.ok((j + 1) * span <= this.size, `tile ${path} beyond the tree`);
      hashes.push(this.node(j * span, (j + 1) * span));
    }
    return this.tamper(path, Buffer.concat(hashes));
  }

  source(): TileLeafSource {
    return new TileLeafSource({
      fetchTile: (p) => Promise.resolve(this.fetch(p)),
      fetchCheckpoint: () => Promise.resolve(this.note),
      concurrency: 3,
    });
  }
}

interface Harness {
  follower: LogFollower<never>;
  delivered: VerifiedEntry[];
  saved: FollowerPosition[];
}

function harness(log: FakeTileLog, batchSize: number, failSave?: (b: VerifiedBatch) => boolean): Harness {
  const delivered: VerifiedEntry[] = [];
  const saved: FollowerPosition[] = [];
  const follower = new LogFollower<never>({
    source: log.source(),
    batchSize,
    verifyNote: (note) => verifyRekorCheckpoint(note, key.publicKey, NAME),
    consumer: { accept: (b) => void delivered.push(...b.entries) },
    store: {
      save: (p, b) => {
        if (failSave?.(b) === true) throw new Error('crash before the position was saved');
        saved.push(p);
      },
    },
  });
  return { follower, delivered, saved };
}

const start: FollowerPosition = { verified: undefined, range: CompactRange.empty() };

function assertInconsistent(e: unknown, pattern: RegExp): boolean {
  assert.ok(isVellumError(e, 'INCONSISTENT_LOG'), `expected INCONSISTENT_LOG, got ${String(e)}`);
  assert.match(e.message, pattern);
  return true;
}

describe('LogFollower over tiles', () => {
  it('follows a growing log that is not a whole number of tiles, delivering every entry once, in order', async () => {
    const log = new FakeTileLog();
    log.append(600); // 2 full tiles + 88
    const h = harness(log, 100);
    const r1 = await h.follower.step(start);
    assert.equal(r1.status, 'caught-up');
    assert.equal(r1.position.range.size, 600);
    assert.ok(r1.position.range.root().equals(merkleRoot(log.bodies.map(leafHashOf))));
    log.append(1000 - 600 + 3); // 1003: 3 full tiles + 235, a partial level-1 tile of width 3
    const r2 = await h.follower.step(r1.position);
    assert.equal(r2.status, 'caught-up');
    assert.equal(r2.delivered, 403);
    assert.deepEqual(
      h.delivered.map((e) => e.index),
      Array.from({ length: 1003 }, (_, i) => i),
    );
    assert.ok(h.delivered.every((e, i) => e.body.equals(log.bodies[i]!)));
    // One save per batch of 100 (the last one of each step shorter), each after its delivery.
    assert.deepEqual(
      h.saved.map((p) => p.range.size),
      [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1003],
    );
    assert.ok(log.reads.includes('tile/entries/003.p/235'), 'the partial bundle was read at its width');
    // Nothing new: no leaves, no save.
    const r3 = await h.follower.step(r2.position);
    assert.equal(r3.delivered, 0);
    assert.equal(h.saved.length, 11);
  });

  it('accepts a checkpoint carrying an extra signature line by an unknown key (a cosigner)', async () => {
    const log = new FakeTileLog();
    log.append(300);
    log.publish(300, undefined, true);
    const h = harness(log, 1000);
    const r = await h.follower.step(start);
    assert.equal(r.position.range.size, 300);
  });

  it('a larger checkpoint that is not consistent with the verified one is INCONSISTENT_LOG; nothing delivered', async () => {
    const log = new FakeTileLog();
    log.append(513);
    const h = harness(log, 1000);
    const r1 = await h.follower.step(start);
    // The log rewrites entry 7 and re-signs a larger tree over the forked history.
    log.bodies[7] = randomBytes(30);
    log.append(100);
    const before = { delivered: h.delivered.length, saved: h.saved.length };
    await assert.rejects(h.follower.step(r1.position), (e) =>
      assertInconsistent(e, /checkpoint of size 613 is not consistent with the one of size 513/),
    );
    assert.deepEqual({ delivered: h.delivered.length, saved: h.saved.length }, before);
    // The same size signed with another root is a split view.
    log.publish(513, randomBytes(32));
    await assert.rejects(h.follower.step(r1.position), (e) =>
      assertInconsistent(e, /two different signed roots/),
    );
    // And a smaller one means the log shrank.
    log.publish(500);
    await assert.rejects(h.follower.step(r1.position), (e) =>
      assertInconsistent(e, /shrank from 513 to 500/),
    );
  });

  it('a leaf that does not match the signed tree stops delivery at the batch holding it', async () => {
    const log = new FakeTileLog();
    log.append(1000);
    // Entry 650 in its bundle is replaced by another body of the same length.
    log.tamper = (path, bytes) => {
      if (path !== 'tile/entries/002') return bytes;
      const out = Buffer.from(bytes);
      let off = 0;
      for (let i = 0; i < 650 - 512; i++) off += 2 + out.readUInt16BE(off);
      out[off + 2] ^= 0xff;
      return out;
    };
    const h = harness(log, 200);
    await assert.rejects(h.follower.step(start), (e) =>
      assertInconsistent(e, /root rebuilt from all 800 entries read so far/),
    );
    // Batches [0,200) .. [400,600) were proven and delivered; [600,800) holds the forgery.
    assert.equal(h.delivered.length, 600);
    assert.deepEqual(
      h.saved.map((p) => p.range.size),
      [200, 400, 600],
    );
  });

  it('a crash between the consumer and the save re-delivers that batch, never skips it', async () => {
    const log = new FakeTileLog();
    log.append(900);
    let crash = true;
    const h = harness(log, 256, (b) => crash && b.from === 512);
    await assert.rejects(h.follower.step(start), /crash before the position was saved/);
    const last = h.saved[h.saved.length - 1]!;
    assert.equal(last.range.size, 512);
    assert.equal(h.delivered.length, 768, 'the batch [512, 768) reached the consumer');
    crash = false;
    // A new process resumes from what was saved (a position whose checkpoint is the one it had).
    const resumed = harness(log, 256);
    const r = await resumed.follower.step({
      verified: last.verified,
      range: CompactRange.fromHex(512, last.range.toHex()),
    });
    assert.equal(r.status, 'caught-up');
    assert.deepEqual(
      resumed.delivered.map((e) => e.index),
      Array.from({ length: 900 - 512 }, (_, i) => 512 + i),
    );
    const everything = new Set([...h.delivered, ...resumed.delivered].map((e) => e.index));
    assert.equal(everything.size, 900, 'no index skipped');
  });

  it('a saved mid-scan position is re-proven: a forged compact range is caught before anything is delivered', async () => {
    const log = new FakeTileLog();
    log.append(700);
    const h = harness(log, 100);
    const r = await h.follower.step(start, { maxEntries: 300 });
    assert.equal(r.status, 'more');
    const forged = CompactRange.empty();
    for (let i = 0; i < 300; i++) forged.append(leafHashOf(i === 5 ? randomBytes(8) : log.bodies[i]!));
    const again = harness(log, 100);
    await assert.rejects(again.follower.step({ verified: r.position.verified, range: forged }), (e) =>
      assertInconsistent(e, /root rebuilt from all 300 entries read so far/),
    );
    assert.equal(again.delivered.length, 0);
  });

  it('stops on request after saving what it read, and a checkpoint signed by another key never verifies', async () => {
    const log = new FakeTileLog();
    log.append(2000);
    const h = harness(log, 10_000);
    let chunks = 0;
    const r = await h.follower.step(start, { shouldStop: () => ++chunks >= 3 });
    assert.equal(r.status, 'stopped');
    assert.equal(r.position.range.size, 768);
    assert.equal(h.saved.length, 1);
    const other = LogSigningKey.generate();
    log.note = signRekorCheckpoint(
      { origin: ORIGIN, size: 2000, rootHash: randomBytes(32), extensions: [] },
      other,
      NAME,
    );
    await assert.rejects(h.follower.step(r.position), (e) =>
      assertInconsistent(e, /does not verify under the given key/),
    );
  });
});
