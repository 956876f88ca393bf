import { availableParallelism } from 'node:os';
import { int, oneOf, text, textOr } from './config-variables';

/** Shortest accepted queue job secret, in bytes: an HMAC-SHA256 key of 256 bits of text. */
export const QUEUE_HMAC_KEY_MIN_LENGTH = 32;

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
      description: 'largest batch; a batch is cut when it holds this many entries…',
    },
    1024,
    1,
    100_000,
  ),
  BATCH_MAX_AGE_MS: int(
    {
      section: server,
      default: '`5`',
      description:
        '…or, while the batch ahead is still committing, when its first entry has waited this long (when nothing is in flight a batch is cut at once)',
    },
    5,
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
  VERIFY_TASK_TIMEOUT_MS: int(
    {
      section: server,
      default: '`2000`',
      description:
        'longest one entry may take on a verification worker: past it the submission gets 400 and the worker thread is replaced (no bound with `VERIFY_WORKERS=0`)',
    },
    2_000,
    10,
    600_000,
  ),
  ROLE: oneOf(
    {
      section: server,
      default: '`all`',
      description:
        '`all`, `api`, `sequencer`, `monitor` (see "Running as several processes") or `witness` (docs/witness.md)',
    },
    'all',
    ['all', 'api', 'sequencer', 'monitor', 'witness'] as const,
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
  QUEUE_HMAC_KEY: text(
    {
      section: server,
      default: 'unset',
      description:
        'with `REDIS_URL`: the secret (at least 32 characters, e.g. `openssl rand -hex 32`) API processes and the sequencer MAC each queued job with; required for `api`/`sequencer` unless `QUEUE_HMAC_KEY_PATH` is set',
    },
    (raw, fail) => {
      if (Buffer.byteLength(raw.trim()) < QUEUE_HMAC_KEY_MIN_LENGTH)
        fail(`must be at least ${QUEUE_HMAC_KEY_MIN_LENGTH} characters`);
    },
  ),
  QUEUE_HMAC_KEY_PATH: text({
    section: server,
    default: '`ROLE=all`: `DATA_DIR/queue-hmac.key`, generated if absent; `api`/`sequencer`: unset',
    description:
      'file holding the queue job secret instead of `QUEUE_HMAC_KEY` (same rules; the file must exist when set)',
  }),
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
  // Hostile clients: how long one may hold a connection, how many connections there may be, how
  // often one address may ask (see "Limits" in the README).
  HEADERS_TIMEOUT_MS: int(
    {
      section: server,
      default: '`10000`',
      description: 'a connection whose request headers are not all in within this is closed',
    },
    10_000,
    100,
    600_000,
  ),
  REQUEST_TIMEOUT_MS: int(
    {
      section: server,
      default: '`30000`',
      description:
        'a connection whose whole request (headers and body) is not in within this gets 408 and is closed; at least `HEADERS_TIMEOUT_MS`',
    },
    30_000,
    100,
    600_000,
  ),
  BODY_IDLE_TIMEOUT_MS: int(
    {
      section: server,
      default: '`10000`',
      description: 'a connection that stops sending its request body for this long is closed',
    },
    10_000,
    100,
    600_000,
  ),
  KEEP_ALIVE_TIMEOUT_MS: int(
    {
      section: server,
      default: '`65000`',
      description:
        'an idle keep-alive connection is closed after this (above the common 60 s load-balancer idle timeout, so the balancer closes first; a client pooling connections races a server that closes sooner)',
    },
    65_000,
    100,
    600_000,
  ),
  MAX_CONNECTIONS: int(
    {
      section: server,
      default: '`900`',
      description:
        'open connections beyond which new ones are closed at once (logged, `vellum_http_connections_dropped_total`); keep it below the file-descriptor limit (`ulimit -n`)',
    },
    900,
    1,
    1_000_000,
  ),
  RATE_LIMIT_MAX: int(
    {
      section: server,
      default: '`0` (off)',
      description:
        'requests one client address may make per `RATE_LIMIT_WINDOW_MS` before 429 + `Retry-After` (health, readiness and metrics exempt)',
    },
    0,
    0,
    10_000_000,
  ),
  RATE_LIMIT_WINDOW_MS: int(
    { section: server, default: '`60000`', description: 'the window `RATE_LIMIT_MAX` counts in' },
    60_000,
    1_000,
    86_400_000,
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
