import { InitialSchema1760000000000 } from './1760000000000-initial-schema';

/** Every migration, oldest first. Other modules' tables get their own files appended here. */
export const VELLUM_MIGRATIONS = [InitialSchema1760000000000];
