import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The monitor's tables (docs/monitoring.md). Same schema on SQLite and PostgreSQL; times are Unix
 * milliseconds, booleans INTEGER 0/1, JSON documents TEXT.
 *
 * - monitor_rules: identity rules (normalised JSON document), from the admin API (`api`) or the
 *   rules file (`file`, replaced as a whole on every good reload).
 * - monitor_state: small key/values (`rules_version`, bumped with every rule change; lag episode).
 * - monitor_cursor: how far the evaluator got (`next_index`), the checkpoint it last verified and
 *   the compact range of the leaves below `next_index` (hex JSON list) from which it rebuilds
 *   roots. Advanced in the same transaction as the alerts it produced.
 * - monitor_identity_keys: identity index written by the evaluator (subject, fingerprint,
 *   repository ids, `malformed`) -> entry index; backfills read it instead of the whole log.
 * - monitor_alerts: one row per event, primary key = the stable event id (dedupe across
 *   restarts, rescans and backfills); evidence = body, inclusion proof, signed checkpoint.
 * - monitor_alert_audit: every alert state change (ack, resolve) with who and when.
 * - monitor_expectations: pre-registered expected signings.
 * - monitor_webhooks: endpoints (secret kept to sign deliveries; shown once at creation).
 * - monitor_outbox: durable delivery queue, one row per (endpoint, event); the source of truth.
 * - monitor_delivery_attempts: delivery log (status codes, errors, durations).
 * - monitor_backfills: backfill jobs and their progress.
 */
export class MonitorSchema1765000000000 implements MigrationInterface {
  readonly name = 'MonitorSchema1765000000000';

  async up(q: QueryRunner): Promise<void> {
    const pg = q.connection.driver.options.type === 'postgres';
    const blob = pg ? 'BYTEA' : 'BLOB';
    const int64 = pg ? 'BIGINT' : 'INTEGER';
    const withoutRowid = pg ? '' : ' WITHOUT ROWID';
    await q.query(
      `CREATE TABLE monitor_rules (
        name TEXT NOT NULL PRIMARY KEY,
        source TEXT NOT NULL,
        document TEXT NOT NULL,
        digest TEXT NOT NULL,
        created_at ${int64} NOT NULL,
        updated_at ${int64} NOT NULL
      )`,
    );
    await q.query(`CREATE TABLE monitor_state (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)`);
    await q.query(
      `CREATE TABLE monitor_cursor (
        name TEXT NOT NULL PRIMARY KEY,
        next_index ${int64} NOT NULL,
        checkpoint_size ${int64} NOT NULL,
        checkpoint_root ${blob},
        checkpoint_note TEXT,
        compact_range TEXT,
        updated_at ${int64} NOT NULL
      )`,
    );
    await q.query(
      `CREATE TABLE monitor_identity_keys (
        key TEXT NOT NULL,
        idx ${int64} NOT NULL,
        PRIMARY KEY (key, idx)
      )${withoutRowid}`,
    );
    await q.query(
      `CREATE TABLE monitor_alerts (
        id TEXT NOT NULL PRIMARY KEY,
        type TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        rule_digest TEXT,
        severity TEXT NOT NULL,
        action TEXT NOT NULL,
        expected INTEGER NOT NULL,
        status TEXT NOT NULL,
        entry_index ${int64},
        leaf_hash TEXT,
        uuid TEXT,
        summary TEXT NOT NULL,
        identity TEXT NOT NULL,
        reasons TEXT NOT NULL,
        evidence TEXT,
        payload ${blob} NOT NULL,
        source TEXT NOT NULL,
        created_at ${int64} NOT NULL,
        updated_at ${int64} NOT NULL,
        acknowledged_at ${int64},
        acknowledged_by TEXT,
        resolved_at ${int64},
        resolution TEXT,
        resolution_note TEXT
      )`,
    );
    await q.query('CREATE INDEX monitor_alerts_status ON monitor_alerts (status, created_at)');
    await q.query('CREATE INDEX monitor_alerts_rule ON monitor_alerts (rule_id, created_at)');
    await q.query('CREATE INDEX monitor_alerts_created ON monitor_alerts (created_at)');
    await q.query(
      `CREATE TABLE monitor_alert_audit (
        id TEXT NOT NULL PRIMARY KEY,
        alert_id TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT,
        detail TEXT,
        at ${int64} NOT NULL
      )`,
    );
    await q.query('CREATE INDEX monitor_alert_audit_alert ON monitor_alert_audit (alert_id, at)');
    await q.query(
      `CREATE TABLE monitor_expectations (
        id TEXT NOT NULL PRIMARY KEY,
        run_invocation_uri TEXT,
        digest TEXT,
        rule_id TEXT,
        note TEXT,
        expires_at ${int64},
        created_at ${int64} NOT NULL
      )`,
    );
    await q.query(
      `CREATE TABLE monitor_webhooks (
        id TEXT NOT NULL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        event_types TEXT NOT NULL,
        secret TEXT NOT NULL,
        description TEXT,
        enabled INTEGER NOT NULL,
        disabled_reason TEXT,
        disabled_at ${int64},
        created_at ${int64} NOT NULL,
        updated_at ${int64} NOT NULL
      )`,
    );
    await q.query(
      `CREATE TABLE monitor_outbox (
        endpoint_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        body ${blob} NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at ${int64} NOT NULL,
        locked_until ${int64},
        last_status INTEGER,
        last_error TEXT,
        created_at ${int64} NOT NULL,
        delivered_at ${int64},
        PRIMARY KEY (endpoint_id, event_id)
      )`,
    );
    await q.query('CREATE INDEX monitor_outbox_due ON monitor_outbox (status, next_attempt_at)');
    await q.query('CREATE INDEX monitor_outbox_event ON monitor_outbox (event_id)');
    await q.query(
      `CREATE TABLE monitor_delivery_attempts (
        endpoint_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at ${int64} NOT NULL,
        status INTEGER,
        outcome TEXT NOT NULL,
        error TEXT,
        duration_ms INTEGER NOT NULL,
        PRIMARY KEY (endpoint_id, event_id, attempt)
      )`,
    );
    await q.query(
      `CREATE TABLE monitor_backfills (
        id TEXT NOT NULL PRIMARY KEY,
        rule_id TEXT NOT NULL,
        from_index ${int64} NOT NULL,
        to_index ${int64} NOT NULL,
        indexed_to ${int64} NOT NULL,
        mode TEXT NOT NULL,
        status TEXT NOT NULL,
        next_index ${int64} NOT NULL,
        candidates ${int64},
        processed ${int64} NOT NULL,
        alerts ${int64} NOT NULL,
        error TEXT,
        created_at ${int64} NOT NULL,
        updated_at ${int64} NOT NULL,
        finished_at ${int64}
      )`,
    );
    await q.query('CREATE INDEX monitor_backfills_status ON monitor_backfills (status, created_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'monitor_backfills',
      'monitor_delivery_attempts',
      'monitor_outbox',
      'monitor_webhooks',
      'monitor_expectations',
      'monitor_alert_audit',
      'monitor_alerts',
      'monitor_identity_keys',
      'monitor_cursor',
      'monitor_state',
      'monitor_rules',
    ]) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
