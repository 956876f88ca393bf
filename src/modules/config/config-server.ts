import { availableParallelism } from 'node:os';
import { int, oneOf, text, textOr } from './config-variables';

const server = 'server';

/** The log server's variables (the README's main configuration table), in README order. */
export const serverVariables = {
  PORT: int({ section: server, default: '`3000`', description: 'HTTP port' }, 3000, 0, 65535),
  HOST: textOr(
    {
      section: server,
      default: '`127.0.0.1`',
      description: 'interface to listen on (`0.0.0.0` in containers)',
    },
    '127.0.0.1',
  ),
  DATA_DIR: textOr(
    {
      section: server,
      default: '`./data`',
      description: 'where the SQLite database and the generated signing key live',
    },
    './data',
  ),
  DATABASE_URL: text(
    {
      section: server,
      default: 'SQLite file `DATA_DIR/vellum.db`',
      description: '`postgres://…` for PostgreSQL, or `sqlite:<path>`',
    },
    (raw, fail) => {
      if (/^postgres(ql)?:\/\//.test(raw)) {
        try {
          new URL(raw);
        } catch {
          fail('is not a valid URL');
        }
      } else if (raw.startsWith('sqlite:')) {
        if (raw.slice('sqlite:'.length).replace(/^\/\//, '') === '') fail('sqlite: needs a file path');
      } else {
        fail('must start with postgres://, postgresql:// or sqlite:');
      }
    },
  ),
  SIGNING_KEY_PATH: text({
    section: server,
    default: '`DATA_DIR/signing-key.pem`, generated if absent',
    description:
      'PEM private key (PKCS#8 or SEC1; ECDSA P-256 or Ed25519). When set explicitly the file must exist',
  }),
  LOG_HOSTNAME: text({
    section: server,
    default: '`HOST:PORT` (`localhost:PORT` when listening on all interfaces)',
    description:
      'checkpoint signer name and origin prefix (`<LOG_HOSTNAME> - <treeID>`); must be a substring of the URL clients use',
  }),
  // Trust files and the C2SP checkpoint line (Rekor v2 / tlog-tiles face).
  NOTE_KEY_PATH: text({
    section: server,
    default: '`DATA_DIR/note-key.pem`, generated if absent',
    description:
      "Ed25519 PEM key signing each checkpoint's C2SP line when the log key is ECDSA (an Ed25519 log key signs it itself)",
  }),
  PUBLIC_URL: text(
    {
      section: server,
      default: '`http://LOG_HOSTNAME`',
      description:
        "the log's public base URL, written into the TrustedRoot and SigningConfig; must contain `LOG_HOSTNAME`",
    },
    (raw, fail) => {
      const u = URL.canParse(raw) ? new URL(raw) : fail('is not a valid URL');
      if (u.protocol !== 'http:' && u.protocol !== 'https:') fail('must be an http:// or https:// URL');
      if (u.search !== '' || u.hash !== '') fail('must have no query or fragment');
    },
  ),
  BATCH_MAX_SIZE: int(
    {
      section: server,
      default: '`1024`',
      description: 'a batch is sequenced when it holds this many entries…',
    },
    1024,
    1,
    100_000,
  ),
  BATCH_MAX_AGE_MS: int(
    { section: server, default: '`50`', description: '…or when its first entry has waited this long' },
    50,
    1,
    60_000,
  ),
  MAX_ENTRY_BYTES: int(
    { section: server, default: '`4194304`', description: 'largest accepted request body' },
    4 * 1024 * 1024,
    1024,
    64 * 1024 * 1024,
  ),
  MAX_PENDING: int(
    {
      section: server,
      default: '`20000`',
      description: 'entries waiting to be sequenced beyond which submissions get 503 + `Retry-After`',
    },
    20_000,
    1,
    10_000_000,
  ),
  VERIFY_WORKERS: int(
    {
      section: server,
      default: 'number of cores',
      description: 'signature-verification worker threads (0 = verify on the main thread)',
    },
    () => Math.max(1, availableParallelism()),
    0,
    256,
  ),
  ROLE: oneOf(
    {
      section: server,
      default: '`all`',
      description: '`all`, `api`, `sequencer` or `monitor` (see "Running as several processes")',
    },
    'all',
    ['all', 'api', 'sequencer', 'monitor'] as const,
  ),
  REDIS_URL: text(
    {
      section: server,
      default: 'unset',
      description:
        '`redis://…`: entries travel from API processes to the sequencer through BullMQ; unset = in-process queue',
    },
    (raw, fail) => {
      if (!/^rediss?:\/\//.test(raw)) fail('must start with redis:// or rediss://');
    },
  ),
  REDIS_PREFIX: textOr(
    {
      section: server,
      default: '`vellum`',
      description: 'key prefix in Redis; every process of one log uses the same',
    },
    'vellum',
    (raw, fail) => {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(raw))
        fail('must be 1-64 characters of A-Z, a-z, 0-9, "_", "." or "-"');
    },
  ),
  PUBLIC_KEY_PATH: text({
    section: server,
    default: 'unset',
    description:
      "`api`/`monitor` roles: the log's public key PEM; otherwise read from what the active sequencer publishes in the database",
  }),
  SEQUENCER_LEASE_TTL_MS: int(
    {
      section: server,
      default: '`5000`',
      description: "the active sequencer's lease; a standby takes over about this long after it dies",
    },
    5000,
    500,
    600_000,
  ),
  SUBMIT_TIMEOUT_MS: int(
    {
      section: server,
      default: '`30000`',
      description:
        'a submission not sequenced within this gets 503 (a retry returns the same entry, 201 or 409)',
    },
    30_000,
    100,
    600_000,
  ),
  SUBMIT_SWEEP_AFTER_MS: int(
    {
      section: server,
      default: '`2000`',
      description:
        '`api` role: a submission unanswered this long is looked up in the database (answered if its batch committed) or re-queued',
    },
    2_000,
    100,
    600_000,
  ),
  READY_MIN_FREE_MB: int(
    {
      section: server,
      default: '`64`',
      description:
        'SQLite: `/ready` fails while the file system holding the database has less free space than this (MiB); `0` = only failed commits count',
    },
    64,
    0,
    1_000_000,
  ),
  LOG_LEVEL: oneOf(
    { section: server, default: '`info`', description: '`error`, `warn`, `info` or `debug`' },
    'info',
    ['error', 'warn', 'info', 'debug'] as const,
  ),
  LOG_FORMAT: oneOf(
    {
      section: server,
      default: '`text`',
      description:
        '`text`, or `json`: one JSON object per line (Nest JSON console logger), request lines carrying the `x-request-id`',
    },
    'text',
    ['text', 'json'] as const,
  ),
};
