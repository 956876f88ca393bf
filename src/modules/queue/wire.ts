/**
 * What travels through Redis between API processes and the sequencer, and its encoding.
 *
 * - A pending entry is a BullMQ job whose id is the entry's leaf hash (lowercase hex) and whose
 *   data is the prepared entry (JobData). The sequencer recomputes the leaf hash from the body and
 *   refuses a job whose id does not match.
 * - The outcome of a batch is one record on a Redis stream (BatchRecord): the checkpoint the
 *   batch's COMMIT made durable, and for each entry its index, integratedTime, SET and outcome,
 *   or, if the batch did not commit, the leaf hashes it failed for.
 */
import { VellumError } from '../../core/errors';
import { HASH_SIZE, leafHash } from '../../core/merkle/hash';
import type { PreparedEntry, SignedCheckpoint } from '../log/log.types';

/** BullMQ job data: a prepared entry. Short keys: it is written once per submission. */
export interface JobData {
  /** Canonical body, base64. */
  readonly b: string;
  readonly k: string;
  readonly v: string;
  /** Search-index keys. */
  readonly x: readonly string[];
}

export function encodeJob(entry: PreparedEntry): JobData {
  return { b: entry.body.toString('base64'), k: entry.kind, v: entry.apiVersion, x: entry.indexKeys };
}

/** The prepared entry of a job; INTERNAL if the data is malformed or does not hash to the job id. */
export function decodeJob(jobId: string | undefined, data: unknown): PreparedEntry {
  const d = data as Partial<JobData> | null;
  if (
    d === null ||
    typeof d !== 'object' ||
    typeof d.b !== 'string' ||
    typeof d.k !== 'string' ||
    typeof d.v !== 'string' ||
    !Array.isArray(d.x) ||
    !d.x.every((k) => typeof k === 'string')
  ) {
    throw new VellumError('INTERNAL', `queue job ${String(jobId)} has malformed data`);
  }
  const body = Buffer.from(d.b, 'base64');
  const hash = leafHash(body);
  if (jobId !== hash.toString('hex')) {
    throw new VellumError('INTERNAL', `queue job ${String(jobId)} does not carry the entry its id names`);
  }
  return { kind: d.k, apiVersion: d.v, body, leafHash: hash, indexKeys: d.x };
}

/** How one entry of a committed batch is to be answered. */
export const Outcome = {
  /** Appended by this batch: 201. */
  Appended: 0,
  /** Already in the log, stored by an earlier delivery of the same job: 201 with the stored entry. */
  Stored: 1,
  /** Already in the log before this submission: 409 pointing at it. */
  Duplicate: 2,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** [leafHex, index, integratedTime, SET base64 ('' for duplicates), outcome] */
export type RecordEntry = readonly [string, number, number, string, Outcome];

export interface BatchRecord {
  /** The checkpoint after the batch (absent when the batch failed). */
  readonly checkpoint?: SignedCheckpoint;
  readonly entries: readonly RecordEntry[];
  /** Batch not committed: the leaf hashes (hex) whose submitters should get 503, and why. */
  readonly failed?: { readonly leaves: readonly string[]; readonly message: string };
}

interface Encoded {
  readonly s?: number;
  readonly r?: string;
  readonly c?: string;
  readonly e: readonly RecordEntry[];
  readonly f?: readonly string[];
  readonly m?: string;
}

export function encodeRecord(r: BatchRecord): string {
  const o: Encoded = {
    ...(r.checkpoint !== undefined
      ? { s: r.checkpoint.size, r: r.checkpoint.rootHash.toString('hex'), c: r.checkpoint.note }
      : {}),
    e: r.entries,
    ...(r.failed !== undefined ? { f: r.failed.leaves, m: r.failed.message } : {}),
  };
  return JSON.stringify(o);
}

/** Decodes a stream record; throws on anything malformed (the reader skips such records). */
export function decodeRecord(text: string): BatchRecord {
  const o = JSON.parse(text) as Encoded;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.e)) throw new Error('malformed batch record');
  let checkpoint: SignedCheckpoint | undefined;
  if (o.s !== undefined) {
    if (!Number.isSafeInteger(o.s) || typeof o.r !== 'string' || typeof o.c !== 'string') {
      throw new Error('malformed batch record checkpoint');
    }
    const rootHash = Buffer.from(o.r, 'hex');
    if (rootHash.length !== HASH_SIZE) throw new Error('malformed batch record root');
    checkpoint = { size: o.s, rootHash, note: o.c };
  }
  for (const e of o.e) {
    if (
      !Array.isArray(e) ||
      typeof e[0] !== 'string' ||
      !Number.isSafeInteger(e[1]) ||
      !Number.isSafeInteger(e[2]) ||
      typeof e[3] !== 'string' ||
      (e[4] !== Outcome.Appended && e[4] !== Outcome.Stored && e[4] !== Outcome.Duplicate)
    ) {
      throw new Error('malformed batch record entry');
    }
  }
  if (o.e.length > 0 && checkpoint === undefined)
    throw new Error('batch record entries without a checkpoint');
  const failed =
    o.f !== undefined && Array.isArray(o.f)
      ? { leaves: o.f.map(String), message: String(o.m ?? '') }
      : undefined;
  return { ...(checkpoint !== undefined ? { checkpoint } : {}), entries: o.e, ...(failed ? { failed } : {}) };
}

/** Redis names derived from REDIS_PREFIX. */
export interface QueueNames {
  /** BullMQ prefix (keys are `<prefix>:<queue>:...`). */
  readonly prefix: string;
  readonly queue: string;
  /** The stream of batch records. */
  readonly results: string;
}

export function queueNames(prefix: string): QueueNames {
  return { prefix, queue: 'entries', results: `${prefix}:batch-results` };
}

/**
 * Batch records kept on the stream (approximate trim). Readers follow it live and only ever need
 * the last few seconds; a reader further behind than this answers from the database instead
 * (its sweep). Bounds Redis memory: a full 1024-entry record is about 200 KB.
 */
export const RESULTS_MAXLEN = 256;
