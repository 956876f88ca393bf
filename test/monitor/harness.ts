/**
 * Shared set-up for the monitor tests: a Nest app with the real storage, signer, sequencer, log
 * reader and monitor modules on a temp SQLite database, served over Fastify on a free port;
 * real hashedrekord entries signed by Fulcio-style certificates made in the test.
 */
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { createHash, randomBytes, sign } from 'node:crypto';
import { prepareEntry, referenceVerifier } from '../../src/core/entries';
import { LogPublicKey } from '../../src/core/keys';
import { loadConfig, type VellumConfig } from '../../src/modules/config/config';
import { ConfigModule } from '../../src/modules/config/config.module';
import { configureFastify, createFastifyAdapter } from '../../src/modules/http/fastify-setup';
import { HttpModule } from '../../src/modules/http/http.module';
import type { PreparedEntry } from '../../src/modules/log/log.types';
import { LogModule } from '../../src/modules/log/log.module';
import { BackfillService } from '../../src/modules/monitor/backfill.service';
import { DeliveryService } from '../../src/modules/monitor/delivery.service';
import { EvaluatorService } from '../../src/modules/monitor/evaluator.service';
import { MONITOR_CONFIG, loadMonitorConfig } from '../../src/modules/monitor/monitor.config';
import { MonitorModule } from '../../src/modules/monitor/monitor.module';
import { MONITOR_OPTIONS, type MonitorOptions } from '../../src/modules/monitor/monitor.options';
import {
  DeliveryRepository,
  ExpectationRepository,
  MonitorStateRepository,
} from '../../src/modules/monitor/repositories';
import { RuleService } from '../../src/modules/monitor/rule.service';
import { SEQUENCER_OPTIONS } from '../../src/modules/sequencer/sequencer.options';
import { LogIdentity } from '../../src/modules/identity/log-identity';
import { VellumDatabase } from '../../src/modules/storage/database';
import { StorageModule } from '../../src/modules/storage/storage.module';
import {
  buildCa,
  buildCertificate,
  fulcioExt,
  newKeyPair,
  type BuiltCert,
  type SanSpec,
} from '../support/x509-builder';

export { postgresDb, sqliteDb, type TestDb } from '../modules/storage-harness';
import { CapturingLogger, type TestDb } from '../modules/storage-harness';
import { ghCertFrom, releaseRuleYaml, type GhOpts } from '../support/monitor-rules';
import { type Reply, http } from '../support/server';
import { WRITE_PATH, type WritePath } from '../../src/modules/write-path/write-path';
import { roleMigrations, rolePart } from '../../src/roles';

export const ADMIN_TOKEN = 'monitor-admin-token-for-tests-0123456789';
export { GH } from '../support/monitor-rules';

export interface MonitorApp {
  readonly app: NestFastifyApplication;
  readonly url: string;
  readonly config: VellumConfig;
  readonly writer: WritePath;
  readonly evaluator: EvaluatorService;
  readonly delivery: DeliveryService;
  readonly backfills: BackfillService;
  readonly rules: RuleService;
  readonly db: VellumDatabase;
  readonly state: MonitorStateRepository;
  readonly expectations: ExpectationRepository;
  readonly deliveries: DeliveryRepository;
  readonly identity: LogIdentity;
  readonly publicKey: LogPublicKey;
  readonly logLines: string[];
  close(): Promise<void>;
}

export interface BootOptions {
  /** Monitor environment (MONITOR_*, ADMIN_TOKEN, WEBHOOK_*); ADMIN_TOKEN defaults to the test token. */
  readonly monitorEnv?: Record<string, string>;
  readonly options?: MonitorOptions;
  /** Default false: tests drive the evaluator themselves. */
  readonly autoStart?: boolean;
}

export async function bootMonitor(db: TestDb, opts: BootOptions = {}): Promise<MonitorApp> {
  const config = loadConfig({ LOG_HOSTNAME: 'vellum.test', BATCH_MAX_AGE_MS: '5', ...db.env }, db.dataDir);
  const logger = new CapturingLogger();
  const mcfg = loadMonitorConfig({ ADMIN_TOKEN, ...opts.monitorEnv }, 'all', db.dataDir);
  const moduleRef = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(config),
      HttpModule,
      StorageModule.forRoot({ migrations: roleMigrations(config) }),
      LogModule,
      ...rolePart('signingIdentity', config),
      ...rolePart('sequencer', config),
      ...rolePart('writePath', config),
      MonitorModule,
    ],
  })
    .setLogger(logger)
    .overrideProvider(SEQUENCER_OPTIONS)
    .useValue({})
    .overrideProvider(MONITOR_CONFIG)
    .useValue(mcfg)
    .overrideProvider(MONITOR_OPTIONS)
    .useValue({ autoStart: opts.autoStart ?? false, ...opts.options })
    .compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), {
    bodyParser: false,
  });
  app.useLogger(logger);
  configureFastify(app, config);
  await app.init();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.getHttpServer().address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const identity = app.get(LogIdentity);
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    config,
    writer: app.get<WritePath>(WRITE_PATH),
    evaluator: app.get(EvaluatorService),
    delivery: app.get(DeliveryService),
    backfills: app.get(BackfillService),
    rules: app.get(RuleService),
    db: app.get(VellumDatabase),
    state: app.get(MonitorStateRepository),
    expectations: app.get(ExpectationRepository),
    deliveries: app.get(DeliveryRepository),
    identity,
    publicKey: LogPublicKey.fromPem(identity.publicKey.pem),
    logLines: logger.lines,
    close: () => app.close(),
  };
}

// -- certificates and entries --------------------------------------------------------------------

export const CA = buildCa('fulcio test CA');

/** A Fulcio-style GitHub Actions certificate. */
export const ghCert = (o: GhOpts = {}): BuiltCert => ghCertFrom(CA, o);

/** A certificate for an e-mail identity (e.g. a Google login). */
export function emailCert(email: string, issuer = 'https://accounts.google.com'): BuiltCert {
  const sans: SanSpec[] = [{ email }];
  return buildCertificate({ issuer: CA, sans, extensions: [fulcioExt(1, issuer), fulcioExt(8, issuer)] });
}

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64');
export const sha256hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** A real, signed hashedrekord ProposedEntry (the certificate's key signs the artifact). */
export function proposedEntry(
  signer: { pem: string; privateKey: import('node:crypto').KeyObject },
  artifact: Buffer = randomBytes(32),
): Record<string, unknown> {
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: sha256hex(artifact) } },
      signature: {
        content: b64(sign('sha256', artifact, signer.privateKey)),
        publicKey: { content: b64(signer.pem) },
      },
    },
  };
}

export function certSigner(cert: BuiltCert): { pem: string; privateKey: import('node:crypto').KeyObject } {
  return { pem: cert.pem, privateKey: cert.keys.privateKey };
}

export function keySigner(): { pem: string; privateKey: import('node:crypto').KeyObject } {
  const k = newKeyPair();
  return { pem: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey: k.privateKey };
}

/** Verified and canonicalized exactly as the API would (reference verifier). */
export function prepared(
  signer: { pem: string; privateKey: import('node:crypto').KeyObject },
  artifact?: Buffer,
): PreparedEntry {
  return prepareEntry(proposedEntry(signer, artifact), referenceVerifier);
}

/** Submits through the module-level write path; resolves with the entry's index once committed. */
export async function submit(m: MonitorApp, e: PreparedEntry): Promise<number> {
  return (await m.writer.submit(e)).entry.index;
}

// -- HTTP ----------------------------------------------------------------------------------------

export type Res = Reply;

/** A call to the monitor's API as the admin (or with `token`, or none with null). */
export function api(
  m: { url: string },
  method: string,
  path: string,
  body?: unknown,
  token: string | null = ADMIN_TOKEN,
): Promise<Res> {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  return http(`${m.url}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const RELEASE_RULE_YAML = `${releaseRuleYaml('{name: release-signer, owner: team-a}')}---
apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: {name: oncall-email}
spec:
  scope:
    - subject: user@domain.com
`;
