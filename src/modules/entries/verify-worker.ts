import { parentPort } from 'node:worker_threads';
import { isVellumError } from '../../core/errors';
import { createFastVerifier } from '../../crypto/fast-verifier';
import { ownedBytes, VerifyRequest, VerifyResult } from './verify-protocol';
import { prepareFromJson } from './verify-core';

// Worker-thread side of VerifyPool: one verifier per thread (its key cache is thread-local).
const verifier = createFastVerifier();
const port = parentPort;
if (!port) throw new Error('verify-worker must run in a worker thread');

port.on('message', (batch: VerifyRequest[]) => {
  const results: VerifyResult[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const req of batch) {
    try {
      const p = prepareFromJson(req.json, verifier, req.forSearch === true, req.v2 === true);
      const body = ownedBytes(p.body);
      const leafHash = ownedBytes(p.leafHash);
      transfer.push(body.buffer as ArrayBuffer, leafHash.buffer as ArrayBuffer);
      results.push({
        id: req.id,
        ok: true,
        kind: p.kind,
        apiVersion: p.apiVersion,
        body,
        leafHash,
        indexKeys: p.indexKeys,
      });
    } catch (e) {
      if (isVellumError(e)) {
        results.push({
          id: req.id,
          ok: false,
          code: e.code,
          message: e.message,
          details: e.details as Record<string, unknown> | undefined,
        });
      } else {
        results.push({
          id: req.id,
          ok: false,
          code: 'INTERNAL',
          message: e instanceof Error ? (e.stack ?? e.message) : String(e),
        });
      }
    }
  }
  // A body that came out as a pooled slice was copied; the same ArrayBuffer must not be listed twice.
  port.postMessage(results, [...new Set(transfer)]);
});
