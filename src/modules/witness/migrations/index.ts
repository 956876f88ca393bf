import type { MigrationClass } from '../../storage/migrations';
import { WitnessSchema1766000000000 } from './1766000000000-witness-schema';

/** The witness's tables; registered with storage by ROLE=witness. */
export const WITNESS_MIGRATIONS: readonly MigrationClass[] = [WitnessSchema1766000000000];
