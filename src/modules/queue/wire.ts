/**
 * What travels through Redis between API processes and the sequencer, and its encoding.
 *
 * - A pending entry is a BullMQ job whose id is the entry's leaf hash (lowercase hex) and whose
 *   data is the prepared entry and the token of the submission that created it, MACed under the
 *   queue secret (JobData). The sequencer checks the MAC, recomputes the leaf hash from the body
 *   and refuses a job failing either.
 * - The outcome of a batch is one record on a Redis stream (BatchRecord): the checkpoint the
 *   batch's COMMIT made durable, and for each entry its index, integratedTime, SET, outcome and
 *   the submission token of the job that was sequenced, or, if the batch did not commit, the leaf hashes it failed for.
 */
import { randomBytes } from 'node:crypto';
import { VellumError } from '../../core/errors';
import { HASH_SIZE, leafHash } from '../../core/merkle/hash';
import type { PreparedEntry, SignedCheckpoint } from '../log/log.types';
import { jobMac, jobMacValid } from './job-auth';

/** The job's payload, JSON inside JobData.p: a prepared entry. Short keys: it is written per submission. */
interface JobPayload {
  /** Canonical body, base64. */
  readonly b: string;
  readonly k: string;
  readonly v: string;
  /** Search-index keys. */
  readonly x: readonly string[];
  /** The submission token of the API request that created the job (see submissionToken). */
  readonly t: string;
}

/** BullMQ job data: the payload as the exact string that was MACed, and its MAC (base64). */
export interface JobData {
  readonly p: string;
  readonly m: string;
}

/** A decoded, authenticated job. */
export interface QueuedJob {
  readonly entry: PreparedEntry;
  readonly submission: string;
}

/** Names one submission across all replicas: which one created a job, so only it gets 201. */
export function submissionToken(): string {
  return randomBytes(12).toString('base64url');
}

export function encodeJob(key: Buffer, entry: PreparedEntry, submission: string): JobData {
  const payload: JobPayload = {
    b: entry.body.toString('base64'),
    k: entry.kind,
    v: entry.apiVersion,
    x: entry.indexKeys,
    t: submission,
  };
  const p = JSON.stringify(payload);
  return { p, m: jobMac(key, entry.leafHash.toString('hex'), p) };
}

/** Why a job was refused: it was not written by a process holding the queue secret, or is malformed. */
export class RejectedJobError extends VellumError {
  constructor(message: string) {
    super('INTERNAL', message);
  }
}

const JOB_ID = /^[0-9a-f]{64}$/;

/**
 * The entry and submission token of a job. The job id, data and MAC are attacker-controlled
 * (anyone who can write to Redis): the MAC is checked first, over the unparsed payload string,
 * and the body must still hash to the job id. Throws RejectedJobError.
 */
export function decodeJob(key: Buffer, jobId: string | undefined, data: unknown): QueuedJob {
  const d = data as Partial<JobData> | null;
  if (jobId === undefined || !JOB_ID.test(jobId)) {
    throw new RejectedJobError(`queue job ${JSON.stringify(jobId)?.slice(0, 80)} has no leaf-hash id`);
  }
  if (d === null || typeof d !== 'object' || typeof d.p !== 'string') {
    throw new RejectedJobError(`queue job ${jobId} has malformed data`);
  }
  if (!jobMacValid(key, jobId, d.p, d.m)) {
    throw new RejectedJobError(`queue job ${jobId} has a missing or wrong MAC`);
  }
  let p: Partial<JobPayload> | null;
  try {
    p = JSON.parse(d.p) as Partial<JobPayload> | null;
  } catch {
    p = null;
  }
  if (
    p === null ||
    typeof p !== 'object' ||
    typeof p.b !== 'string' ||
    typeof p.k !== 'string' ||
    typeof p.v !== 'string' ||
    typeof p.t !== 'string' ||
    !Array.isArray(p.x) ||
    !p.x.every((k) => typeof k === 'string')
  ) {
    throw new RejectedJobError(`queue job ${jobId} has a malformed payload`);
  }
  const body = Buffer.from(p.b, 'base64');
  const hash = leafHash(body);
  if (jobId !== hash.toString('hex')) {
    throw new RejectedJobError(`queue job ${jobId} does not carry the entry its id names`);
  }
  return {
    entry: { kind: p.k, apiVersion: p.v, body, leafHash: hash, indexKeys: p.x },
    submission: p.t,
  };
}

/** How one entry of a committed batch is to be answered. */
export const Outcome = {
  /** Appended by this batch: 201 for the submission named by the token, 409 for every other. */
  Appended: 0,
  /** Already in the log, stored by an earlier delivery of the same job: as Appended. */
  Stored: 1,
  /** Already in the log before this job: 409 pointing at it, for every submission. */
  Duplicate: 2,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/**
 * [leafHex, index, integratedTime, SET base64 ('' for duplicates), outcome, submission token of
 * the sequenced job ('' when none created the entry)]
 */
export type RecordEntry = readonly [string, number, number, string, Outcome, string];

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
      typeof e[5] !== 'string' ||
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
  /**
   * Prefix of the hashes (one per minute of the sequencer's clock) mapping a leaf hex to the
   * submission token of the job that created its entry, for replicas that missed the record.
   */
  readonly created: string;
}

export function queueNames(prefix: string): QueueNames {
  return { prefix, queue: 'entries', results: `${prefix}:batch-results`, created: `${prefix}:created` };
}

/**
 * Batch records kept on the stream (approximate trim). Readers follow it live and only ever need
 * the last few seconds; a reader further behind than this answers from the database instead
 * (its sweep). Bounds Redis memory: a full 1024-entry record is about 200 KB.
 */
export const RESULTS_MAXLEN = 256;

/** Width of one `created` hash, and how long each is kept (beyond the longest SUBMIT_TIMEOUT_MS). */
export const CREATED_BUCKET_MS = 60_000;
export const CREATED_TTL_S = 20 * 60;

/** The `created` hash a batch committed at `at` (the sequencer's clock, ms) writes to. */
export function createdKey(names: QueueNames, at: number): string {
  return `${names.created}:${Math.floor(at / CREATED_BUCKET_MS)}`;
}

/**
 * The `created` hashes that may hold an entry submitted at `since` and looked up at `now`, newest
 * first. One bucket of slack each side: the sequencer's clock is not this process's.
 */
export function createdKeys(names: QueueNames, since: number, now: number): string[] {
  const keys: string[] = [];
  const first = Math.floor(since / CREATED_BUCKET_MS) - 1;
  for (let b = Math.floor(now / CREATED_BUCKET_MS) + 1; b >= first; b--) keys.push(`${names.created}:${b}`);
  return keys;
}
