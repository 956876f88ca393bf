import { isVellumError } from '../../core/errors';
import { decodeWebhookSecret } from '../../core/monitor/webhook-signature';
import { bool, int, text } from './config-variables';

export const ADMIN_TOKEN_MIN_LENGTH = 16;

const monitor = 'monitor';

/** Identity monitoring's variables (the README's monitor table), in README order. */
export const monitorVariables = {
  MONITOR_RULES_PATH: text({
    section: monitor,
    default: 'unset',
    description: 'YAML rules file, watched and reloaded',
  }),
  MONITOR_RULES_RELOAD_MS: int(
    {
      section: monitor,
      default: '`2000`',
      description: 'how often the rules file is checked for a change the file watcher missed',
    },
    2000,
    50,
    3_600_000,
  ),
  ADMIN_TOKEN: text(
    {
      section: monitor,
      default: 'unset',
      description: `bearer token for \`/v1/monitor\` (${ADMIN_TOKEN_MIN_LENGTH}+ characters); unset = admin API answers 403`,
    },
    (raw, fail) => {
      if (raw.length < ADMIN_TOKEN_MIN_LENGTH) fail(`must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters`);
      if (!/^[\x21-\x7e]+$/.test(raw)) fail('must be printable ASCII without spaces');
    },
  ),
  WEBHOOK_ALLOW_PRIVATE: bool(
    {
      section: monitor,
      default: '`false`',
      description: 'allow webhook destinations on private/loopback addresses',
    },
    false,
  ),
  WEBHOOK_TIMEOUT_MS: int(
    { section: monitor, default: '`20000`', description: "one delivery attempt's timeout" },
    20_000,
    100,
    120_000,
  ),
  WEBHOOK_CONCURRENCY: int(
    { section: monitor, default: '`8`', description: 'deliveries in flight per process' },
    8,
    1,
    256,
  ),
  WEBHOOK_POLL_MS: int(
    {
      section: monitor,
      default: '`1000`',
      description:
        'how often the outbox is polled for due deliveries (with Redis: only while Redis is unreachable)',
    },
    1000,
    10,
    600_000,
  ),
  WEBHOOK_SWEEP_MS: int(
    {
      section: monitor,
      default: '`5000`',
      description: 'with Redis: how often due outbox rows without a BullMQ job are (re)scheduled',
    },
    5000,
    10,
    600_000,
  ),
  MONITOR_POLL_MS: int(
    {
      section: monitor,
      default: '`500`',
      description: 'how often the evaluator looks for a new checkpoint',
    },
    500,
    10,
    600_000,
  ),
  MONITOR_BATCH_SIZE: int(
    { section: monitor, default: '`500`', description: 'entries per evaluator transaction' },
    500,
    1,
    100_000,
  ),
  MONITOR_LAG_ENTRIES: int(
    {
      section: monitor,
      default: '`100000`',
      description: '`monitor.lagging` when the evaluator is more than this many entries behind',
    },
    100_000,
    1,
    Number.MAX_SAFE_INTEGER,
  ),
  MONITOR_LAG_SECONDS: int(
    {
      section: monitor,
      default: '`600`',
      description: '`monitor.lagging` when the oldest unevaluated entry is older than this',
    },
    600,
    1,
    31_536_000,
  ),
  MONITOR_ENABLED: bool(
    {
      section: monitor,
      default: '`true`',
      description: 'run the evaluator and deliveries (in roles `all` and `monitor`)',
    },
    true,
  ),
  VELLUM_WEBHOOK_SECRET: text(
    {
      section: monitor,
      default: 'unset',
      description:
        '`vellum monitor --webhook-url`: the webhook signing secret (`whsec_…`) when `--webhook-secret-file` is not given',
    },
    (raw, fail) => {
      // The message names what is wrong, never the secret itself.
      try {
        decodeWebhookSecret(raw);
      } catch (e) {
        if (!isVellumError(e)) throw e;
        fail(e.message);
      }
    },
  ),
};
