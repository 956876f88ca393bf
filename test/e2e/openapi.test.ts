import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderOpenApi } from '../../src/cli/openapi';
import { repoRoot } from '../support/paths';

test('the committed openapi/openapi.json is what `vellum openapi` generates from the code', async () => {
  const generated = await renderOpenApi();
  const committed = readFileSync(join(repoRoot(), 'openapi', 'openapi.json'), 'utf8');
  assert.equal(
    committed,
    generated,
    'openapi/openapi.json is stale: run `npm run openapi` (vellum openapi --out openapi/openapi.json) and commit it',
  );
  // Generation is deterministic: a second run gives the same bytes.
  assert.equal(await renderOpenApi(), generated);
  const doc = JSON.parse(generated);
  const ops = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap(
    (p) => Object.values(p).map((o) => o.operationId),
  );
  for (const id of [
    'createLogEntry',
    'getLogEntryByIndex',
    'getLogEntryByUUID',
    'searchLogQuery',
    'getLogInfo',
    'getLogProof',
    'getPublicKey',
    'searchIndex',
    'getCheckpoint',
    'getTile',
    'getTrustedRoot',
    'getSigningConfig',
    'getCheckpointVerifierKeys',
    'createEntryV2',
  ]) {
    assert.ok(ops.includes(id), `operation ${id} is documented`);
  }
});
