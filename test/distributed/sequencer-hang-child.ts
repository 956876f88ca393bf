// Child process for the re-delivery scenario: a ROLE=sequencer write path whose first batch that
// appends entries commits and then never publishes its outcome, as if the process died right
// after COMMIT. Prints `active` once it holds the lease and `committed <size> <appended>` from
// inside the hang; the parent then kills it with SIGKILL.
import { loadConfig } from '../../src/modules/config/config';
import { SequencerService } from '../../src/modules/sequencer/sequencer.service';
import { boot } from '../modules/storage-harness';

async function main(): Promise<void> {
  const env = JSON.parse(process.env.VELLUM_TEST_ENV ?? '{}') as Record<string, string>;
  let hung = false;
  const { app } = await boot(loadConfig(env, env.DATA_DIR), {
    sequencer: {
      afterCommit: (b) => {
        if (hung || b.appended === 0) return undefined;
        hung = true;
        process.stdout.write(`committed ${b.size} ${b.appended}\n`);
        return new Promise<void>(() => undefined);
      },
    },
  });
  const writer = app.get(SequencerService);
  const poll = setInterval(() => {
    if (writer.sequencerState() === 'active') {
      clearInterval(poll);
      process.stdout.write('active\n');
    }
  }, 20);
}
void main();
