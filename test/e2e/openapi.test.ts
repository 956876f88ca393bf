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

/**
 * The Rekor v1 parts of the document against Rekor's openapi.yaml. The expected values are copied
 * from that file (not from Vellum's code), so a change on either side shows here.
 */
test('the v1 schemas carry the patterns, bounds and types of Rekor openapi.yaml', async () => {
  const doc = JSON.parse(await renderOpenApi());
  const schemas = doc.components.schemas;
  const HEX64 = '^[0-9a-fA-F]{64}$';
  const UUID = '^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$';
  const SEMVER = String.raw`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`;

  const hexFields: [string, unknown][] = [
    ['LogInfo.rootHash', schemas.LogInfo.properties.rootHash.pattern],
    ['InactiveShardLogInfo.rootHash', schemas.InactiveShardLogInfo.properties.rootHash.pattern],
    ['ConsistencyProof.rootHash', schemas.ConsistencyProof.properties.rootHash.pattern],
    ['ConsistencyProof.hashes[]', schemas.ConsistencyProof.properties.hashes.items.pattern],
    ['InclusionProof.rootHash', schemas.InclusionProof.properties.rootHash.pattern],
    ['InclusionProof.hashes[]', schemas.InclusionProof.properties.hashes.items.pattern],
    ['LogEntry.logID', schemas.LogEntryValue.properties.logID.pattern],
  ];
  for (const [name, pattern] of hexFields) {
    assert.equal(pattern, HEX64, name);
    // The pattern is Rekor's in effect too: upper case is a match, 63 digits are not.
    assert.ok(new RegExp(pattern as string).test('AB'.repeat(32)), `${name} accepts upper case`);
    assert.ok(!new RegExp(pattern as string).test('a'.repeat(63)), `${name} needs 64 digits`);
  }

  assert.equal(schemas.ProposedEntry.properties.apiVersion.pattern, SEMVER);
  assert.ok(new RegExp(SEMVER).test('0.0.1-rc.1+build.5'));
  assert.deepEqual(schemas.LogInfo.properties.inactiveShards.items, {
    $ref: '#/components/schemas/InactiveShardLogInfo',
  });
  assert.deepEqual([...schemas.InactiveShardLogInfo.required].sort(), [
    'rootHash',
    'signedTreeHead',
    'treeID',
    'treeSize',
  ]);
  for (const s of ['LogInfo', 'InactiveShardLogInfo']) {
    assert.equal(schemas[s].properties.treeID.pattern, '^[0-9]+$', `${s}.treeID`);
    assert.equal(schemas[s].properties.signedTreeHead.format, 'signedCheckpoint', `${s}.signedTreeHead`);
    // Rekor declares 1, but an empty log answers 0 (docs/clients.md, "Differences from Rekor v1").
    assert.equal(schemas[s].properties.treeSize.minimum, 0, `${s}.treeSize`);
  }
  assert.equal(schemas.InclusionProof.properties.treeSize.minimum, 1);
  assert.equal(schemas.InclusionProof.properties.logIndex.minimum, 0);
  assert.equal(schemas.LogEntryValue.properties.logIndex.minimum, 0);
  assert.equal(schemas.SearchLogQuery.properties.entryUUIDs.items.pattern, UUID);
  assert.equal(schemas.SearchLogQuery.properties.logIndexes.items.minimum, 0);
  for (const f of ['entryUUIDs', 'logIndexes', 'entries']) {
    assert.equal(schemas.SearchLogQuery.properties[f].minItems, 1, f);
    assert.equal(schemas.SearchLogQuery.properties[f].maxItems, 10, f);
  }
  assert.equal(
    schemas.SearchIndex.properties.hash.pattern,
    '^(sha512:)?[0-9a-fA-F]{128}$|^(sha256:)?[0-9a-fA-F]{64}$|^(sha1:)?[0-9a-fA-F]{40}$',
  );
  assert.deepEqual(Object.keys(schemas.SearchIndex.properties.publicKey.properties).sort(), [
    'content',
    'format',
  ]);
  assert.equal(schemas.SearchIndex.properties.subject.maxLength, 512);

  const params = (path: string) =>
    Object.fromEntries(
      (doc.paths[path].get.parameters as { name: string; schema: any }[]).map((p) => [p.name, p.schema]),
    );
  const proof = doc.paths['/api/v1/log/proof'].get.parameters.map((p: { name: string }) => p.name);
  assert.deepEqual(proof, ['firstSize', 'lastSize', 'treeID'], 'in the order Rekor lists them');
  assert.deepEqual(params('/api/v1/log/proof').firstSize, { default: 1, minimum: 1, type: 'integer' });
  assert.deepEqual(params('/api/v1/log/proof').lastSize, { minimum: 1, type: 'integer' });
  assert.deepEqual(params('/api/v1/log/proof').treeID, { pattern: '^[0-9]+$', type: 'string' });
  assert.deepEqual(params('/api/v1/log/publicKey').treeID, { pattern: '^[0-9]+$', type: 'string' });
  assert.deepEqual(params('/api/v1/log/entries').logIndex, { minimum: 0, type: 'integer' });
  assert.equal(params('/api/v1/log/entries/{entryUUID}').entryUUID.pattern, UUID);
  const indexOk = doc.paths['/api/v1/index/retrieve'].post.responses['200'].content['application/json'];
  assert.equal(indexOk.schema.items.pattern, UUID);

  // The public key is PEM; its errors are JSON like every other error.
  const pk = doc.paths['/api/v1/log/publicKey'].get.responses;
  assert.deepEqual(Object.keys(pk['200'].content), ['application/x-pem-file']);
  for (const status of ['400', '422'])
    assert.deepEqual(Object.keys(pk[status].content), ['application/json']);
});
