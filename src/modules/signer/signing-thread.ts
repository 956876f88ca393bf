import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { VellumError } from '../../core/errors';
import type { SignBatchRequest, SignedBatch, SigningKeysData } from './batch-signing';

interface Waiting {
  readonly resolve: (b: SignedBatch) => void;
  readonly reject: (e: Error) => void;
}

type Reply =
  | { readonly id: number; readonly ok: true; readonly sets: Uint8Array[]; readonly note: string }
  | { readonly id: number; readonly ok: false; readonly message: string };

/**
 * One worker thread that holds the log's private keys and signs batches (signing-worker.ts).
 * Started on first use; if it dies, its waiting batches fail with UNAVAILABLE (nothing of them
 * is durable: signing comes before the batch's COMMIT) and the next batch starts a new one.
 * Referenced only while a batch is waiting, so an idle log never keeps a process alive.
 */
export class SigningThread {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly keys: SigningKeysData) {}

  sign(req: SignBatchRequest): Promise<SignedBatch> {
    if (this.closed) return Promise.reject(new VellumError('UNAVAILABLE', 'the signer is shut down'));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<SignedBatch>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ id, req });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    this.failAll('the signer is shut down');
    await w?.terminate();
  }

  private start(): Worker {
    const worker = new Worker(join(__dirname, 'signing-worker.js'), { workerData: this.keys });
    worker.unref();
    worker.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) worker.unref();
      if (m.ok)
        w.resolve({
          sets: m.sets.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength)),
          note: m.note,
        });
      else w.reject(new VellumError('UNAVAILABLE', `signing failed: ${m.message}`));
    });
    const gone = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(why);
    };
    worker.on('error', (e) => gone(`the signing thread failed: ${e.message}`));
    worker.on('exit', (code) => gone(`the signing thread exited (code ${code})`));
    this.worker = worker;
    return worker;
  }

  private failAll(why: string): void {
    const err = new VellumError('UNAVAILABLE', why);
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
