import { parentPort, workerData } from 'node:worker_threads';
import { isVellumError } from '../../core/errors';
import { createFastVerifier } from '../../crypto/fast-verifier';
import { ownedBytes, VerifyRequest, VerifyResult, WorkerProgress } from './verify-protocol';
import { prepareFromJson } from './verify-core';

// Worker-thread side of VerifyPool: one verifier per thread (its key cache is thread-local).
const verifier = createFastVerifier();
const port = parentPort;
if (!port) throw new Error('verify-worker must run in a worker thread');
// The pool watches this to stop an entry that runs past the time budget (see VerifyPool).
const progress = new WorkerProgress((workerData as { progress: SharedArrayBuffer }).progress);

port.on('message', (batch: VerifyRequest[]) => {
  const results: VerifyResult[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const req of batch) {
    progress.begin(req.id);
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
  progress.end();
  // A body that came out as a pooled slice was copied; the same ArrayBuffer must not be listed twice.
  port.postMessage(results, [...new Set(transfer)]);
});
