import { parentPort, workerData } from 'node:worker_threads';
import { type SignBatchRequest, type SigningKeysData, keysFromData, signBatchWith } from './batch-signing';

// Worker-thread side of SigningThread: holds the log's private keys and signs one batch per
// message, so SETs and checkpoints never block the event loop that answers HTTP.
const port = parentPort;
if (!port) throw new Error('signing-worker must run in a worker thread');
const keys = keysFromData(workerData as SigningKeysData);

port.on('message', (m: { id: number; req: SignBatchRequest }) => {
  try {
    const { sets, note } = signBatchWith(keys, m.req);
    const transfer = sets.map((s) => {
      // Owned copies, so the buffers can be transferred instead of cloned.
      const own = new Uint8Array(s.length);
      own.set(s);
      return own;
    });
    port.postMessage(
      { id: m.id, ok: true, sets: transfer, note },
      transfer.map((s) => s.buffer),
    );
  } catch (e) {
    port.postMessage({ id: m.id, ok: false, message: (e as Error).message });
  }
});
