import { InitialSchema1760000000000 } from './1760000000000-initial-schema';
import { MonitorSchema1765000000000 } from '../../monitor/migrations/1765000000000-monitor-schema';

/** Every migration, oldest first. Other modules' tables get their own files appended here. */
export const VELLUM_MIGRATIONS = [InitialSchema1760000000000, MonitorSchema1765000000000];
