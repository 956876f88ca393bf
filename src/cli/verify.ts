import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { verifyRekorCheckpoint } from '../core/checkpoint';
import { LogPublicKey } from '../core/keys';
import { leafHash } from '../core/merkle/hash';
import { CompactRange } from '../core/follower/compact-range';
import { LogFollower, type LeafSource } from '../core/follower/log-follower';
import { TileLeafSource } from '../core/follower/tile-leaf-source';
import { decodeEntryBundle, entryBundlePath, TILE_WIDTH, tileWidthAt } from '../core/tiles/tiles';
import { HttpClient } from '../net/http-client';
import { V1LeafSource } from './monitor/v1-leaf-source';
import { LOG_READER_OPTIONS, parse, UsageError, withUsage } from './args';
import { checkBundle } from './verify-bundle';
import {
  check,
  checkTlogProof,
  checkV1Entry,
  fail,
  originTreeId,
  VerifyFailure,
  witnessPolicy,
} from './verify-evidence';
import { formatTlogProof, type TlogProof, type WitnessPolicy } from '../core/tlog-proof';

const USAGE =
  'vellum verify --log URL --public-key FILE (--uuid ID | --index N | --entry FILE) [--state FILE] [--tiles] [--write-proof FILE] [--witness VKEY ... [--witness-quorum K]]\n' +
  '       vellum verify --offline --public-key FILE (--entry FILE | --bundle FILE | --tlog-proof FILE (--leaf-data FILE | --leaf-hash HEX)) [--write-proof FILE] [--witness VKEY ... [--witness-quorum K]]';

function readText(path: string, what: string): string {
  try {
    return readFileSync(resolve(path), 'utf8');
  } catch (e) {
    fail(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

function readJson(path: string, what: string): unknown {
  const text = readText(path, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    fail(`${what} ${path} is not JSON: ${(e as Error).message}`);
  }
}

/** Writes a verified entry's evidence as a C2SP tlog-proof file (the checkpoint as the log signed it). */
function writeProof(path: string, proof: TlogProof): string {
  writeFileSync(resolve(path), formatTlogProof(proof));
  return `wrote the entry's tlog-proof (index ${proof.index}, ${proof.hashes.length} hashes) to ${resolve(path)}`;
}

/** `--offline`: an entry file, a bundle or a tlog-proof, checked with no network at all. */
function offline(
  args: Record<string, string | boolean | string[] | undefined>,
  policy: WitnessPolicy,
): number {
  try {
    const pub = check('public key', () =>
      LogPublicKey.fromPem(readText(args['public-key'] as string, 'public key')),
    );
    let out: string[];
    if (typeof args.entry === 'string') {
      const entry = checkV1Entry(readJson(args.entry, 'entry file'), pub, policy);
      out = [entry.report];
      if (typeof args['write-proof'] === 'string') out.push(writeProof(args['write-proof'], entry.proof));
    } else if (typeof args.bundle === 'string')
      out = checkBundle(readJson(args.bundle, 'bundle'), pub, policy);
    else {
      const data = args['leaf-data'];
      const hash = args['leaf-hash'];
      if ((data === undefined) === (hash === undefined))
        throw new UsageError(
          '--tlog-proof needs exactly one of --leaf-data FILE (the entry as logged) or --leaf-hash HEX',
        );
      let leaf: Buffer;
      if (typeof hash === 'string') {
        if (!/^[0-9a-fA-F]{64}$/.test(hash)) throw new UsageError('--leaf-hash must be 64 hex digits');
        leaf = Buffer.from(hash, 'hex');
      } else {
        try {
          leaf = leafHash(readFileSync(resolve(String(data))));
        } catch (e) {
          fail(`cannot read leaf data ${String(data)}: ${(e as Error).message}`);
        }
      }
      out = [checkTlogProof(readText(args['tlog-proof'] as string, 'tlog-proof'), leaf, pub, policy)];
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  } catch (e) {
    if (e instanceof VerifyFailure) {
      process.stderr.write(`verification failed: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

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

/** check() for asynchronous work (network reads included). */
async function checkAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof VerifyFailure) throw e;
    fail(`${what}: ${(e as Error).message}`);
  }
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
      bundle: { type: 'string' },
      'tlog-proof': { type: 'string' },
      'leaf-data': { type: 'string' },
      'leaf-hash': { type: 'string' },
      witness: { type: 'string', multiple: true },
      'witness-quorum': { type: 'string' },
      'write-proof': { type: 'string' },
    });
    if (typeof args['public-key'] !== 'string') throw new UsageError('--public-key FILE is required');
    const modes = [args.uuid, args.index, args.entry, args.bundle, args['tlog-proof']].filter(
      (v) => v !== undefined,
    );
    if (modes.length !== 1)
      throw new UsageError('give exactly one of --uuid, --index, --entry, --bundle, --tlog-proof');
    const policy = witnessPolicy(
      (args.witness as string[] | undefined) ?? [],
      args['witness-quorum'] as string | undefined,
    );
    // A bundle and a tlog-proof carry all their evidence: checked with no network, like --offline --entry.
    if (args.offline === true || args.bundle !== undefined || args['tlog-proof'] !== undefined) {
      if (args.uuid !== undefined || args.index !== undefined)
        throw new UsageError('--offline checks a file: give --entry, --bundle or --tlog-proof');
      return offline(args, policy);
    }
    if (typeof args.log !== 'string')
      throw new UsageError('--log URL is required (or --offline with --entry, --bundle or --tlog-proof)');
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
      const entry = checkV1Entry(doc, pub, policy);
      const { body, treeId } = entry;
      const entryCp = entry.checkpoint;
      const ip = { logIndex: entry.proofIndex };
      out.push(entry.report);
      if (typeof args['write-proof'] === 'string') out.push(writeProof(args['write-proof'], entry.proof));

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
