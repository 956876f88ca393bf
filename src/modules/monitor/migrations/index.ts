import type { MigrationClass } from '../../storage/migrations';
import { MonitorSchema1765000000000 } from './1765000000000-monitor-schema';

/** The monitor's tables; registered with storage by every role that loads the monitor. */
export const MONITOR_MIGRATIONS: readonly MigrationClass[] = [MonitorSchema1765000000000];
