import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Checkpoint, verifyRekorCheckpoint } from '../core/checkpoint';
import { decodeBase64Strict } from '../core/encoding';
import { LogPublicKey } from '../core/keys';
import { leafHash } from '../core/merkle/hash';
import { verifyInclusion } from '../core/merkle/verify';
import { CompactRange } from '../core/follower/compact-range';
import { LogFollower, type LeafSource } from '../core/follower/log-follower';
import { TileLeafSource } from '../core/follower/tile-leaf-source';
import { decodeEntryBundle, entryBundlePath, TILE_WIDTH, tileWidthAt } from '../core/tiles/tiles';
import { HttpClient } from '../net/http-client';
import { V1LeafSource } from './monitor/v1-leaf-source';
import { verifySet } from '../core/set';
import { LOG_READER_OPTIONS, parse, UsageError, withUsage } from './args';

const USAGE =
  'vellum verify --log URL --public-key FILE (--uuid ID | --index N | --entry FILE) [--state FILE] [--offline] [--tiles]';

/** A verification failure: printed as `verification failed: <message>`, exit code 1. */
class VerifyFailure extends Error {}

interface StateRecord {
  treeId: string;
  size: number;
  rootHash: string;
  checkpoint: string;
  updatedAt: string;
}

interface StateFile {
  version: 1;
  logs: Record<string, StateRecord>;
}

function fail(message: string): never {
  throw new VerifyFailure(message);
}

/** check() for asynchronous work (network reads included). */
async function checkAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof VerifyFailure) throw e;
    fail(`${what}: ${(e as Error).message}`);
  }
}

/** Runs a core check and rewords its error as a verification failure about `what`. */
function check<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VerifyFailure) throw e;
    fail(`${what}: ${(e as Error).message}`);
  }
}

function hexHashes(v: unknown, what: string): Buffer[] {
  if (!Array.isArray(v)) fail(`${what} is not an array`);
  return v.map((h, i) => {
    if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h))
      fail(`${what}[${i}] is not 64 lowercase hex digits`);
    return Buffer.from(h, 'hex');
  });
}

async function getJson(url: string, allow404 = false): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' } });
  } catch (e) {
    fail(`cannot reach ${url}: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (res.status === 404 && allow404) return undefined;
  if (!res.ok) fail(`GET ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text);
  } catch {
    fail(`GET ${url}: response is not JSON`);
  }
}

function originTreeId(cp: Checkpoint): string {
  const m = / - (-?[0-9]+)$/.exec(cp.origin);
  if (!m) fail(`checkpoint origin ${JSON.stringify(cp.origin)} is not "<hostname> - <treeID>"`);
  return m[1];
}

function loadState(path: string): StateFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, logs: {} };
    throw e;
  }
  const parsed = JSON.parse(text) as StateFile;
  if (parsed?.version !== 1 || typeof parsed.logs !== 'object')
    fail(`state file ${path} is not a Vellum verify state`);
  return parsed;
}

function saveState(path: string, state: StateFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Write-then-rename: an interrupted run never leaves a truncated state behind.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * `vellum verify`: checks one entry end to end against the log's public key (leaf hash = id, SET,
 * checkpoint signature, inclusion proof), then that the log's current checkpoint is consistent
 * with the entry's checkpoint and with the checkpoint this machine saw last time (state file).
 */
export function verifyCommand(argv: string[]): Promise<number> {
  return withUsage(async () => {
    const args = parse(argv, {
      ...LOG_READER_OPTIONS,
      uuid: { type: 'string' },
      index: { type: 'string' },
      entry: { type: 'string' },
      offline: { type: 'boolean', default: false },
    });
    if (typeof args.log !== 'string') throw new UsageError('--log URL is required');
    if (typeof args['public-key'] !== 'string') throw new UsageError('--public-key FILE is required');
    const modes = [args.uuid, args.index, args.entry].filter((v) => v !== undefined);
    if (modes.length !== 1) throw new UsageError('give exactly one of --uuid, --index, --entry');
    if (args.offline && args.entry === undefined) throw new UsageError('--offline needs --entry');
    const base = args.log.replace(/\/+$/, '');
    const statePath = resolve(
      typeof args.state === 'string' ? args.state : join(homedir(), '.vellum', 'verify-state.json'),
    );

    try {
      const pub = check('public key', () =>
        LogPublicKey.fromPem(readFileSync(resolve(args['public-key'] as string), 'utf8')),
      );
      const out: string[] = [];

      // 1. The entry.
      let doc: unknown;
      if (typeof args.uuid === 'string') {
        if (!/^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$/.test(args.uuid))
          throw new UsageError('--uuid must be 64 or 80 hex digits');
        doc = await getJson(`${base}/api/v1/log/entries/${args.uuid}`, true);
        if (doc === undefined) fail(`entry ${args.uuid} not found in ${base}`);
      } else if (typeof args.index === 'string') {
        if (!/^[0-9]+$/.test(args.index)) throw new UsageError('--index must be a non-negative integer');
        doc = await getJson(`${base}/api/v1/log/entries?logIndex=${args.index}`, true);
        if (doc === undefined) fail(`no entry at index ${args.index} in ${base}`);
      } else {
        const path = resolve(args.entry as string);
        try {
          doc = JSON.parse(readFileSync(path, 'utf8'));
        } catch (e) {
          fail(`cannot read entry file ${path}: ${(e as Error).message}`);
        }
      }
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
        fail('entry is not a LogEntry object');
      const ids = Object.keys(doc);
      if (ids.length !== 1) fail(`a LogEntry has exactly one key, this one has ${ids.length}`);
      const id = ids[0].toLowerCase();
      if (!/^([0-9a-f]{64}|[0-9a-f]{80})$/.test(id)) fail(`entry key ${ids[0]} is not an entry UUID`);
      const e = (doc as Record<string, any>)[ids[0]];
      if (typeof e !== 'object' || e === null) fail('entry value is not an object');
      const ip = e.verification?.inclusionProof;
      const setB64 = e.verification?.signedEntryTimestamp;
      if (typeof ip !== 'object' || ip === null) fail('entry has no inclusion proof');
      if (typeof setB64 !== 'string') fail('entry has no signed entry timestamp');

      // 2. The entry's own evidence.
      const body = check('entry body', () => decodeBase64Strict(e.body, 'body'));
      const leaf = leafHash(body);
      if (id.slice(-64) !== leaf.toString('hex')) {
        fail(`entry UUID ${id} does not match the body (leaf hash ${leaf.toString('hex')})`);
      }
      if (e.logID !== pub.logIdHex)
        fail(`entry logID ${String(e.logID)} is not the given key's logID ${pub.logIdHex}`);
      check('signed entry timestamp', () =>
        verifySet(
          pub,
          { body: e.body, integratedTime: e.integratedTime, logID: e.logID, logIndex: e.logIndex },
          decodeBase64Strict(setB64, 'signedEntryTimestamp'),
        ),
      );
      const entryCp = check('entry checkpoint', () => verifyRekorCheckpoint(String(ip.checkpoint), pub));
      const treeId = originTreeId(entryCp);
      if (id.length === 80) {
        const want = BigInt.asUintN(64, BigInt(treeId)).toString(16).padStart(16, '0');
        if (id.slice(0, 16) !== want)
          fail(`entry UUID tree part ${id.slice(0, 16)} is not the checkpoint's tree ${want}`);
      }
      if (ip.treeSize !== entryCp.size)
        fail(`inclusionProof.treeSize ${ip.treeSize} is not the checkpoint size ${entryCp.size}`);
      if (ip.rootHash !== entryCp.rootHash.toString('hex'))
        fail('inclusionProof.rootHash is not the checkpoint root');
      if (!Number.isSafeInteger(ip.logIndex) || ip.logIndex > e.logIndex)
        fail('inclusionProof.logIndex is inconsistent with logIndex');
      check('inclusion proof', () =>
        verifyInclusion(
          leaf,
          ip.logIndex,
          entryCp.size,
          hexHashes(ip.hashes, 'inclusionProof.hashes'),
          entryCp.rootHash,
        ),
      );
      out.push(
        `entry ${id} OK: index ${e.logIndex}, integrated ${new Date(e.integratedTime * 1000).toISOString()}, ` +
          `included in checkpoint size ${entryCp.size} (SET, checkpoint signature and inclusion proof verified)`,
      );

      if (args.offline) {
        process.stdout.write(out.join('\n') + '\n');
        return 0;
      }

      // 3. The log now: its checkpoint must extend the entry's, and the one remembered from last time.
      // Read through the v1 API, or with --tiles through the C2SP tiles (consistency proofs
      // folded from hash tiles, the entry's body looked up in its entry bundle).
      const http = new HttpClient(base);
      const tiles =
        args.tiles === true
          ? new TileLeafSource({
              fetchTile: (p) => http.bytes(p),
              fetchCheckpoint: () => http.text('checkpoint'),
              concurrency: 4,
            })
          : undefined;
      const source: LeafSource = tiles ?? new V1LeafSource(http, 1);
      const follower = new LogFollower({
        source,
        batchSize: 1,
        verifyNote: (note) => verifyRekorCheckpoint(note, pub),
        consumer: { accept: () => undefined },
        store: { save: () => undefined },
      });
      const got = await checkAsync('log checkpoint', () => source.latestCheckpoint());
      const latestNote = got.note;
      const latest = check('log checkpoint', () => verifyRekorCheckpoint(latestNote, pub));
      if (originTreeId(latest) !== treeId)
        fail(`log tree ${originTreeId(latest)} is not the entry's tree ${treeId}`);
      const prove = async (from: { size: number; rootHash: Buffer }, what: string) => {
        if (from.size > latest.size) {
          fail(
            `the log's checkpoint (size ${latest.size}) is older than ${what} (size ${from.size}): rollback or fork`,
          );
        }
        const known = { origin: latest.origin, size: from.size, rootHash: from.rootHash, extensions: [] };
        await checkAsync(
          `consistency between ${what} (size ${from.size}) and the log's checkpoint (size ${latest.size})`,
          () =>
            follower.verifyNext(
              { verified: { checkpoint: known, note: '' }, range: CompactRange.empty() },
              got,
            ),
        );
        out.push(`consistent: ${what} (size ${from.size}) -> current checkpoint (size ${latest.size})`);
      };
      if (tiles !== undefined) {
        const n = Math.floor(ip.logIndex / TILE_WIDTH);
        const path = entryBundlePath(n, tileWidthAt(0, n, latest.size));
        const bodies = await checkAsync(`entry bundle ${path}`, async () =>
          decodeEntryBundle(await http.bytes(path)),
        );
        const served = bodies[ip.logIndex - n * TILE_WIDTH];
        if (served === undefined || !served.equals(body))
          fail(`entry bundle ${path} holds another body at index ${ip.logIndex}`);
        out.push(`entry body found at index ${ip.logIndex} of ${path}`);
      }
      await prove(entryCp, "the entry's checkpoint");

      const state = loadState(statePath);
      const key = `${base} ${pub.logIdHex}`;
      const prior = state.logs[key];
      if (prior !== undefined) {
        if (prior.treeId !== treeId) fail(`the log's tree id changed from ${prior.treeId} to ${treeId}`);
        await prove(
          { size: prior.size, rootHash: Buffer.from(prior.rootHash, 'hex') },
          'the checkpoint seen last time',
        );
      } else {
        out.push(`no earlier checkpoint recorded for this log in ${statePath}`);
      }
      state.logs[key] = {
        treeId,
        size: latest.size,
        rootHash: latest.rootHash.toString('hex'),
        checkpoint: latestNote,
        updatedAt: new Date().toISOString(),
      };
      saveState(statePath, state);
      out.push(`recorded checkpoint size ${latest.size} in ${statePath}`);
      process.stdout.write(out.join('\n') + '\n');
      return 0;
    } catch (e) {
      if (e instanceof VerifyFailure) {
        process.stderr.write(`verification failed: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  }, USAGE);
}
