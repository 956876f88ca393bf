// Child process for the kill -9 scenario: boots the write path on the database given in
// VELLUM_TEST_ENV, submits entries as fast as it can and prints one line per acknowledged entry.
import { loadConfig } from '../../src/modules/config/config';
import { WRITE_PATH, type WritePath } from '../../src/modules/write-path/write-path';
import { boot, makeEntry } from './storage-harness';

async function main(): Promise<void> {
  const env = JSON.parse(process.env.VELLUM_TEST_ENV ?? '{}') as Record<string, string>;
  const { app } = await boot(loadConfig(env, env.DATA_DIR));
  const writer = app.get<WritePath>(WRITE_PATH);
  process.stdout.write('ready\n');
  for (;;) {
    const batch = Array.from({ length: 200 }, () => makeEntry());
    await Promise.all(
      batch.map(async (e) => {
        const a = await writer.submit(e);
        process.stdout.write(`ack ${a.entry.index} ${e.leafHash.toString('hex')} ${a.checkpoint.size}\n`);
      }),
    );
  }
}
void main();
