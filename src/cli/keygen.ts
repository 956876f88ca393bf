import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LogKeyAlgorithm, LogSigningKey } from '../core/keys';
import { parse, UsageError, withUsage } from './args';

const USAGE = 'vellum keygen --out FILE [--algorithm ecdsa-p256|ed25519]';

/** `vellum keygen`: a new log key, written 0600, never over an existing file. */
export function keygenCommand(argv: string[]): Promise<number> {
  return withUsage(async () => {
    const args = parse(argv, {
      out: { type: 'string' },
      algorithm: { type: 'string', default: 'ecdsa-p256' },
    });
    if (typeof args.out !== 'string' || args.out === '') throw new UsageError('--out FILE is required');
    const algorithm = args.algorithm as string;
    if (algorithm !== 'ecdsa-p256' && algorithm !== 'ed25519') {
      throw new UsageError(`--algorithm must be ecdsa-p256 or ed25519, got ${JSON.stringify(algorithm)}`);
    }
    const key = LogSigningKey.generate(algorithm as LogKeyAlgorithm);
    const out = resolve(args.out);
    mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
    try {
      // 'wx': fail if the file exists, so a key in use is never replaced by accident.
      writeFileSync(out, key.toPkcs8Pem(), { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        process.stderr.write(`keygen: ${out} already exists; refusing to overwrite it\n`);
        return 1;
      }
      throw e;
    }
    process.stdout.write(
      `wrote ${algorithm} private key to ${out} (mode 0600)\n` +
        `logID ${key.publicKey.logIdHex}\n` +
        key.publicKey.pem,
    );
    return 0;
  }, USAGE);
}
