import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/modules/config/config';
import { loadOrCreateSigningKey } from '../../src/modules/signer/signing-key';

// A newcomer's first `npm start` has no DATA_DIR yet: the key is the first file written there.
test('first boot generates the key into a DATA_DIR that does not exist yet', () => {
  const base = mkdtempSync(join(tmpdir(), 'vellum-fresh-'));
  try {
    const dataDir = join(base, 'not', 'yet', 'there');
    const cfg = loadConfig({ DATA_DIR: dataDir }, base);
    const first = loadOrCreateSigningKey(cfg);
    assert.equal(first.generated, true);
    assert.equal(statSync(join(dataDir, 'signing-key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    const again = loadOrCreateSigningKey(cfg);
    assert.equal(again.generated, false);
    assert.equal(again.key.publicKey.logIdHex, first.key.publicKey.logIdHex);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
