/**
 * The TrustedRoot a sigstore-js client loads for a running Vellum: exactly what `vellum trust-root
 * --server URL` prints (nothing built in the test), plus an independent computation of the Rekor
 * v2 log ID to check it against.
 *
 * Log IDs (C2SP signed-note, Rekor v2), computed here independently of src/:
 *  - ECDSA: SHA-256(DER SPKI), one ID for both faces;
 *  - Ed25519: the v2 face's ID is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key), the v1 face's SHA-256(DER SPKI).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { CLI_MAIN } from './server';
import type { LogKey } from './verifier';

export function rekorV2LogIdOf(key: LogKey, hostname: string): Buffer {
  if (key.key.asymmetricKeyType !== 'ed25519') return createHash('sha256').update(key.der).digest();
  const raw = key.der.subarray(key.der.length - 32);
  return createHash('sha256')
    .update(Buffer.concat([Buffer.from(hostname, 'utf8'), Buffer.from([0x0a, 0x01]), raw]))
    .digest();
}

/** Runs `vellum trust-root --server <url>` and returns the JSON it printed. */
export function printedTrustedRoot(serverUrl: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, 'trust-root', '--server', serverUrl], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`vellum trust-root exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as Record<string, unknown>);
    });
  });
}

/** The same TrustedRoot with every tlog's key replaced: what a client trusting another log has. */
export function withOtherLogKey(root: Record<string, unknown>, other: LogKey): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(root)) as { tlogs: Array<{ publicKey: { rawBytes: string } }> };
  for (const t of copy.tlogs) t.publicKey.rawBytes = other.der.toString('base64');
  return copy;
}
