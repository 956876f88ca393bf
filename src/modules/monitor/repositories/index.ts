/** The monitor's repositories, one per aggregate; each owns the SQL of its tables. */
import { AlertRepository } from './alert.repository';
import { BackfillRepository } from './backfill.repository';
import { DeliveryRepository } from './delivery.repository';
import { ExpectationRepository } from './expectation.repository';
import { IdentityIndexRepository } from './identity-index.repository';
import { MonitorStateRepository } from './monitor-state.repository';
import { RuleRepository } from './rule.repository';
import { WebhookRepository } from './webhook.repository';

export * from './alert.repository';
export * from './backfill.repository';
export * from './delivery.repository';
export * from './expectation.repository';
export * from './identity-index.repository';
export * from './monitor-state.repository';
export * from './rule.repository';
export * from './webhook.repository';

export const MONITOR_REPOSITORIES = [
  MonitorStateRepository,
  RuleRepository,
  IdentityIndexRepository,
  AlertRepository,
  ExpectationRepository,
  WebhookRepository,
  DeliveryRepository,
  BackfillRepository,
];
