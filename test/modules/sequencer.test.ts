import { sequencerSuite } from './sequencer-suite';
import { sqliteDb } from './storage-harness';

sequencerSuite('sqlite', sqliteDb);
