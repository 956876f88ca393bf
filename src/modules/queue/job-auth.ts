import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { QUEUE_HMAC_KEY_MIN_LENGTH } from '../config/config-server';
import type { VellumConfig } from '../config/config';

/**
 * Authentication of queued jobs. Redis is reachable by more than the log's own processes, so a
 * job is trusted only when it carries HMAC-SHA256, under the secret the API processes and the
 * sequencer share, over its job id (the leaf hash) and the exact payload bytes the API wrote.
 * The payload is kept as a string inside the job so the sequencer checks the very bytes that were
 * MACed, before parsing any of them.
 */

/** Domain separation: this MAC is over a queue job of this format and nothing else. */
const CONTEXT = 'vellum queue job v1\n';

/** The shared secret: from the environment, from its file, or (ROLE=all) generated into DATA_DIR. */
export function loadQueueKey(config: VellumConfig): Buffer {
  const source = config.queueHmacKey;
  // loadConfig sets it whenever REDIS_URL is set for a role with a queue; this is a wiring error.
  if (source === undefined) throw new Error('the Redis queue needs a QUEUE_HMAC_KEY');
  if (source.source === 'env') return source.secret;
  if (source.generate) {
    try {
      // 'wx': two processes sharing DATA_DIR racing here both end up reading the one file written.
      writeFileSync(source.path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  let text: string;
  try {
    text = readFileSync(source.path, 'utf8').trim();
  } catch (e) {
    throw new Error(`QUEUE_HMAC_KEY_PATH: cannot read ${source.path}: ${(e as Error).message}`);
  }
  if (Buffer.byteLength(text) < QUEUE_HMAC_KEY_MIN_LENGTH) {
    throw new Error(
      `QUEUE_HMAC_KEY_PATH: ${source.path} must hold at least ${QUEUE_HMAC_KEY_MIN_LENGTH} characters`,
    );
  }
  return Buffer.from(text);
}

export function jobMac(key: Buffer, jobId: string, payload: string): string {
  return createHmac('sha256', key)
    .update(CONTEXT)
    .update(jobId)
    .update('\n')
    .update(payload)
    .digest('base64');
}

/** Constant-time check of a job's MAC; false for a missing or malformed one. */
export function jobMacValid(key: Buffer, jobId: string, payload: string, mac: unknown): boolean {
  if (typeof mac !== 'string') return false;
  const expected = Buffer.from(jobMac(key, jobId, payload), 'base64');
  const given = Buffer.from(mac, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
