/**
 * Vellum's pure monitoring core (docs/monitoring.md): identity extraction, rules, evaluation, events,
 * Standard Webhooks signing, delivery policy and the SSRF guard. No I/O, no clock, no randomness
 * of its own: the Nest monitor module wires these to storage, the outbox and HTTP.
 */
export * from './identity';
export * from './index-keys';
export * from './rules';
export * from './evaluate';
export * from './events';
export * from './webhook-signature';
export * from './delivery';
export * from './ssrf';
export * from './policy-import';
