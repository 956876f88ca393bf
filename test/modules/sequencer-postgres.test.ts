import { sequencerSuite } from './sequencer-suite';
import { postgresDb } from './storage-harness';

sequencerSuite('postgres', postgresDb);
