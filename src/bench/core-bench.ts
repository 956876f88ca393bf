/**
 * Merkle core throughput, single core: the raw hash rate, appends into a MemoryTileStore, and
 * inclusion / consistency proofs at tree sizes 1e6 and 1e7.
 *
 *   raw SHA-256          nodeHashInto over 65-byte messages (0x01 || 64 bytes): the function the
 *                        appender hashes every interior node with, so the append ceiling is raw / 2
 *                        (one leaf hash + about one node hash per leaf)
 *   appends              leafHash of a 64-byte entry (also a 65-byte message) + append in batches of
 *                        1,000 + store.write of the changed tiles
 *   proofs               one proof at a time (await each), uniformly random indices / first sizes,
 *                        and "recent" ones among the last 1,000 entries; a sample is verified after
 *                        each timed run
 *
 * Run: npm run bench:core   (or: node dist/src/bench/core-bench.js [maxSize] [secondsPerRow])
 */
import { createHash } from 'node:crypto';
import { MerkleAppender } from '../core/merkle/appender';
import { leafHash, nodeHashInto } from '../core/merkle/hash';
import { consistencyProof, inclusionProof, rootAt } from '../core/merkle/proofs';
import { MemoryTileStore } from '../core/merkle/tile-store';
import { verifyConsistency, verifyInclusion } from '../core/merkle/verify';

const MAX_SIZE = Number(process.argv[2] ?? 10_000_000);
const SECONDS = Number(process.argv[3] ?? 1.5);
const BATCH = 1_000;
const RECENT = 1_000;
const PROOF_SIZES = [1_000_000, 10_000_000].filter((s) => s <= MAX_SIZE);

interface Row {
  readonly what: string;
  readonly perSecond: number;
  readonly note?: string;
}
const rows: Row[] = [];

function seconds(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

/** Runs fn in chunks until SECONDS have passed; returns operations per second. */
function rate(fn: (i: number) => void, chunk = 1_000): number {
  for (let i = 0; i < chunk; i++) fn(i);
  const start = process.hrtime.bigint();
  let ops = 0;
  while (seconds(start) < SECONDS) {
    for (let k = 0; k < chunk; k++) fn(ops++);
  }
  return ops / seconds(start);
}

async function asyncRate(fn: (i: number) => Promise<unknown>, chunk = 1_000): Promise<number> {
  for (let i = 0; i < chunk; i++) await fn(i);
  const start = process.hrtime.bigint();
  let ops = 0;
  while (seconds(start) < SECONDS) {
    for (let k = 0; k < chunk; k++) await fn(ops++);
  }
  return ops / seconds(start);
}

/** The 64-byte entry whose leaf is `index`; recomputable, so proofs can be checked afterwards. */
function entryData(index: number, out: Buffer): Buffer {
  out.fill(0xab);
  out.writeUIntBE(index, 0, 6);
  return out;
}

function rawHashRates(): { inProcess: number } {
  const message = createHash('sha512').update('bench').digest(); // 64 bytes after the 0x01 prefix
  const digest = Buffer.alloc(32);
  const inProcess = rate(() => nodeHashInto(message, 0, digest, 0));
  rows.push({ what: 'raw SHA-256, 65-byte messages (nodeHashInto)', perSecond: inProcess });
  const prefixed = Buffer.concat([Buffer.from([1]), message]);
  const viaOpenSsl = rate(() => createHash('sha256').update(prefixed).digest());
  rows.push({
    what: 'raw SHA-256, 65-byte messages (node:crypto)',
    perSecond: viaOpenSsl,
    note: 'for comparison',
  });
  const entry = Buffer.alloc(64);
  rows.push({ what: 'leafHash, 64-byte entries', perSecond: rate((i) => leafHash(entryData(i, entry))) });
  return { inProcess };
}

async function proofRates(store: MemoryTileStore, size: number, root: Buffer): Promise<void> {
  const entry = Buffer.alloc(64);
  const n = 200_000;
  const uniformIndex = Array.from({ length: n }, () => Math.floor(Math.random() * size));
  const recentIndex = Array.from({ length: n }, () => size - 1 - Math.floor(Math.random() * RECENT));
  const uniformOld = Array.from({ length: n }, () => 1 + Math.floor(Math.random() * (size - 1)));
  const recentOld = Array.from({ length: n }, () => size - 1 - Math.floor(Math.random() * RECENT));

  const inclusion = async (label: string, indices: number[]): Promise<void> => {
    const perSecond = await asyncRate((i) => inclusionProof(store, indices[i % n], size));
    for (let i = 0; i < 200; i++) {
      const index = indices[i];
      const proof = await inclusionProof(store, index, size);
      verifyInclusion(leafHash(entryData(index, entry)), index, size, proof, root);
    }
    rows.push({ what: `inclusion proof @ ${size.toExponential(0)}, ${label}`, perSecond });
  };
  const consistency = async (label: string, olds: number[]): Promise<void> => {
    const perSecond = await asyncRate((i) => consistencyProof(store, olds[i % n], size));
    for (let i = 0; i < 200; i++) {
      const old = olds[i];
      const proof = await consistencyProof(store, old, size);
      verifyConsistency(old, size, proof, await rootAt(store, old), root);
    }
    rows.push({ what: `consistency proof @ ${size.toExponential(0)}, ${label}`, perSecond });
  };

  await inclusion('uniform index', uniformIndex);
  await inclusion(`index in last ${RECENT}`, recentIndex);
  await consistency('uniform first size', uniformOld);
  await consistency(`first size in last ${RECENT}`, recentOld);
}

async function main(): Promise<void> {
  console.log(
    `vellum core bench: Node ${process.version}, tree up to ${MAX_SIZE.toLocaleString('en-US')} leaves`,
  );
  const { inProcess } = rawHashRates();

  const appender = MerkleAppender.empty();
  const store = new MemoryTileStore();
  const entry = Buffer.alloc(64);
  const batch: Buffer[] = new Array<Buffer>(BATCH);
  let appendSeconds = 0;
  for (const target of [...PROOF_SIZES, MAX_SIZE].filter((s, i, a) => a.indexOf(s) === i)) {
    const from = appender.size;
    const start = process.hrtime.bigint();
    while (appender.size < target) {
      const count = Math.min(BATCH, target - appender.size);
      const base = appender.size;
      for (let i = 0; i < count; i++) batch[i] = leafHash(entryData(base + i, entry));
      store.write(appender.append(count === BATCH ? batch : batch.slice(0, count)).tiles);
    }
    const took = seconds(start);
    appendSeconds += took;
    rows.push({
      what: `appends ${from.toLocaleString('en-US')} -> ${target.toLocaleString('en-US')} (batches of ${BATCH})`,
      perSecond: (target - from) / took,
    });
    if (PROOF_SIZES.includes(target)) await proofRates(store, target, appender.root());
  }
  const appendRate = appender.size / appendSeconds;
  rows.push({ what: 'appends overall', perSecond: appendRate });

  const memory = process.memoryUsage();
  const width = Math.max(...rows.map((r) => r.what.length));
  console.log('');
  console.log(`${'measure'.padEnd(width)}  ${'per second'.padStart(12)}`);
  console.log(`${'-'.repeat(width)}  ${'-'.repeat(12)}`);
  for (const row of rows) {
    const value = Math.round(row.perSecond).toLocaleString('en-US').padStart(12);
    console.log(`${row.what.padEnd(width)}  ${value}${row.note ? `  (${row.note})` : ''}`);
  }
  const ratio = appendRate / (inProcess / 2);
  console.log('');
  console.log(`append efficiency: appends / (raw / 2) = ${(ratio * 100).toFixed(1)}%  (target >= 50%)`);
  const slowestProof = Math.min(...rows.filter((r) => r.what.includes('proof')).map((r) => r.perSecond));
  console.log(
    `slowest proof case: ${Math.round(slowestProof).toLocaleString('en-US')}/s  (target >= 50,000/s)`,
  );
  console.log(
    `tiles stored: ${store.count.toLocaleString('en-US')}; memory: rss ${(memory.rss / 2 ** 20).toFixed(0)} MiB, ` +
      `array buffers ${(memory.arrayBuffers / 2 ** 20).toFixed(0)} MiB`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
