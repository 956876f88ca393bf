/**
 * Set-up for the monitor repository tests: storage plus the repositories on a real SQLite file
 * or a fresh PostgreSQL database, and builders for webhooks and alerts.
 */
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Test, type TestingModule } from '@nestjs/testing';
import { ConfigModule } from '../../src/modules/config/config.module';
import {
  AlertRepository,
  BackfillRepository,
  DeliveryRepository,
  ExpectationRepository,
  IdentityIndexRepository,
  MONITOR_REPOSITORIES,
  MonitorStateRepository,
  RuleRepository,
  WebhookRepository,
  type NewAlert,
  type WebhookRecord,
} from '../../src/modules/monitor/repositories';
import { VellumDatabase } from '../../src/modules/storage/database';
import { StorageModule } from '../../src/modules/storage/storage.module';
import { MONITOR_MIGRATIONS } from '../../src/modules/monitor/migrations';
import { CapturingLogger, postgresDb, sqliteDb, testConfig, type TestDb } from '../modules/storage-harness';

export const DBS: ReadonlyArray<readonly [string, () => Promise<TestDb>]> = [
  ['sqlite', sqliteDb],
  ['postgres', postgresDb],
];

export interface Repos {
  readonly db: VellumDatabase;
  readonly state: MonitorStateRepository;
  readonly rules: RuleRepository;
  readonly index: IdentityIndexRepository;
  readonly alerts: AlertRepository;
  readonly expectations: ExpectationRepository;
  readonly webhooks: WebhookRepository;
  readonly deliveries: DeliveryRepository;
  readonly backfills: BackfillRepository;
}

/** Storage plus the repositories, as one process would have them; closed after the test. */
export async function open(t: TestContext, db: TestDb): Promise<Repos> {
  const app: TestingModule = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(testConfig(db)),
      StorageModule.forRoot({ migrations: MONITOR_MIGRATIONS }),
    ],
    providers: [...MONITOR_REPOSITORIES],
  })
    .setLogger(new CapturingLogger())
    .compile();
  await app.init();
  t.after(() => app.close());
  return {
    db: app.get(VellumDatabase),
    state: app.get(MonitorStateRepository),
    rules: app.get(RuleRepository),
    index: app.get(IdentityIndexRepository),
    alerts: app.get(AlertRepository),
    expectations: app.get(ExpectationRepository),
    webhooks: app.get(WebhookRepository),
    deliveries: app.get(DeliveryRepository),
    backfills: app.get(BackfillRepository),
  };
}

export async function withDb(t: TestContext, make: () => Promise<TestDb>): Promise<TestDb> {
  const db = await make();
  t.after(() => db.cleanup());
  return db;
}

export function webhook(name: string, eventTypes: string[], enabled = true): WebhookRecord {
  return {
    id: randomUUID(),
    name,
    url: `https://hooks.example/${name}`,
    eventTypes,
    secret: `whsec_${name}`,
    enabled,
    createdAt: 1000,
    updatedAt: 1000,
  };
}

export function alert(over: Partial<NewAlert> & { id: string }): NewAlert {
  return {
    type: 'identity.unexpected',
    ruleId: 'r1',
    severity: 'high',
    action: 'alert',
    expected: false,
    summary: `alert ${over.id}`,
    identity: { subject: 'x' },
    reasons: [{ code: 'c' }],
    payload: Buffer.from(`{"id":"${over.id}"}`),
    source: 'live',
    ...over,
  };
}
