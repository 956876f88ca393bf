import { parseArgs, ParseArgsConfig } from 'node:util';

import { EXIT, UsageError } from './exit-codes';

export { UsageError };

/** Options of the commands that read a log (`verify`, `monitor`): where, its key, a state file, tiles or v1 API. */
export const LOG_READER_OPTIONS = {
  log: { type: 'string' },
  'public-key': { type: 'string' },
  state: { type: 'string' },
  tiles: { type: 'boolean', default: false },
} as const;

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
): Record<keyof T, string | boolean | undefined> {
  try {
    const { values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
    return values as unknown as Record<keyof T, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function positiveInt(name: string, v: string | boolean | undefined, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Runs a command body; a UsageError becomes a message on stderr and exit code 2. */
export async function withUsage(fn: () => Promise<number>, usage: string): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\nusage: ${usage}\n`);
      return EXIT.usage;
    }
    throw e;
  }
}
