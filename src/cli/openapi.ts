import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { buildOpenApiDocument } from '../modules/api/openapi';
import { loadConfig } from '../modules/config/config';
import { createApp } from '../main';
import { parse, withUsage } from './args';

/**
 * The OpenAPI document as text. Built in Nest preview mode: modules and routes are scanned but no
 * provider runs, so nothing touches a database or key and the output depends on the code alone.
 */
export async function renderOpenApi(): Promise<string> {
  // Fixed, environment-independent config: only the route shapes matter here.
  const config = loadConfig({ DATA_DIR: join(tmpdir(), 'vellum-openapi-unused'), LOG_LEVEL: 'error' }, '/');
  const app = await createApp(config, { preview: true });
  try {
    return JSON.stringify(buildOpenApiDocument(app), null, 2) + '\n';
  } finally {
    await app.close();
  }
}

export function openapiCommand(argv: string[]): Promise<number> {
  return withUsage(async () => {
    const args = parse(argv, { out: { type: 'string' } });
    const text = await renderOpenApi();
    if (typeof args.out === 'string') {
      const out = resolve(args.out);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, text);
      process.stderr.write(`wrote ${out}\n`);
    } else {
      process.stdout.write(text);
    }
    return 0;
  }, 'vellum openapi [--out FILE]');
}
