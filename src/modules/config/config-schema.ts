import { availableParallelism } from 'node:os';
import { z } from 'zod';

/**
 * Every environment variable Vellum reads, as one zod schema. Each variable carries its README
 * text (what it means, what the default is); `npm run docs:config` renders the configuration
 * tables from it, so the documentation cannot drift from what the code accepts.
 */
export interface VariableDoc {
  /** Which README table the variable belongs to. */
  readonly section: 'server' | 'monitor';
  /** The default as a reader should see it (Markdown). */
  readonly default: string;
  readonly description: string;
}

export const variableDocs = z.registry<VariableDoc>();

type Raw = string | undefined;

/** A variable's value is its raw text; unset and empty both mean "use the default". */
function variable<T>(
  doc: VariableDoc,
  parse: (raw: string, fail: (message: string) => never) => T,
  def: () => T,
) {
  return z
    .string()
    .optional()
    .transform((raw: Raw, ctx): T => {
      if (raw === undefined || raw === '') return def();
      try {
        return parse(raw, (message) => {
          throw new InvalidValue(message);
        });
      } catch (e) {
        if (!(e instanceof InvalidValue)) throw e;
        ctx.addIssue({ code: 'custom', message: e.message });
        return z.NEVER;
      }
    })
    .register(variableDocs, doc);
}

class InvalidValue extends Error {}

function int(doc: VariableDoc, def: number | (() => number), min: number, max: number) {
  return variable(
    doc,
    (raw, fail) => {
      if (!/^[0-9]+$/.test(raw.trim())) fail(`must be a whole number, got ${JSON.stringify(raw)}`);
      const v = Number(raw.trim());
      if (!Number.isSafeInteger(v) || v < min || v > max)
        fail(`must be between ${min} and ${max}, got ${raw}`);
      return v;
    },
    typeof def === 'function' ? def : () => def,
  );
}

function oneOf<const T extends readonly string[]>(doc: VariableDoc, def: T[number], allowed: T) {
  return variable(
    doc,
    (raw, fail): T[number] => {
      if (!allowed.includes(raw)) fail(`must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    },
    () => def,
  );
}

function bool(doc: VariableDoc, def: boolean) {
  return variable(
    doc,
    (raw, fail) => {
      const v = raw.trim().toLowerCase();
      if (v === 'true' || v === '1' || v === 'yes') return true;
      if (v === 'false' || v === '0' || v === 'no') return false;
      return fail(`must be true or false, got ${JSON.stringify(raw)}`);
    },
    () => def,
  );
}

function text(doc: VariableDoc, check?: (raw: string, fail: (message: string) => never) => void) {
  return textOr(doc, undefined, check);
}

/** Text with a constant default, so the default lives here beside its README text. */
function textOr<D extends string | undefined>(
  doc: VariableDoc,
  def: D,
  check?: (raw: string, fail: (message: string) => never) => void,
) {
  return variable<string | D>(
    doc,
    (raw, fail) => {
      check?.(raw, fail);
      return raw;
    },
    () => def,
  );
}

export const ADMIN_TOKEN_MIN_LENGTH = 16;

const server = 'server';
const monitor = 'monitor';

export const envSchema = z.object({
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
  LOG_LEVEL: oneOf(
    { section: server, default: '`info`', description: '`error`, `warn`, `info` or `debug`' },
    'info',
    ['error', 'warn', 'info', 'debug'] as const,
  ),

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
});

/** The environment after validation: defaults filled in, numbers parsed. */
export type ParsedEnv = z.output<typeof envSchema>;

/** Raised for the first variable (in schema order) whose value the schema rejects. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** The environment as read at boot. */
export type Env = Readonly<Record<string, string | undefined>>;

export function parseEnv(env: Env): ParsedEnv {
  const r = envSchema.safeParse(env);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const name = issue.path.length > 0 ? String(issue.path[0]) : 'environment';
  throw new ConfigError(name, issue.message);
}
