import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyRekorCheckpoint } from '../../src/core/checkpoint';
import { isVellumError } from '../../src/core/errors';
import { LogPublicKey, LogSigningKey } from '../../src/core/keys';
import { verifySet } from '../../src/core/set';
import { ConfigError } from '../../src/modules/config/config';
import { LogIdentity } from '../../src/modules/identity/log-identity';
import { LogSigner } from '../../src/modules/signer/log-signer';
import { LOG_PUBLIC_KEY } from '../../src/modules/identity/identity.module';
import { boot, sqliteDb, testConfig, type TestDb, withTestDb } from './storage-harness';

const withDb = (fn: (db: TestDb) => Promise<void>): Promise<void> => withTestDb(sqliteDb, fn);

test('signer: generates a P-256 key (mode 0600) on first boot, logs it, reloads it and the tree id on restart', () =>
  withDb(async (db) => {
    const keyPath = join(db.dataDir, 'signing-key.pem');
    const first = await boot(testConfig(db), { writer: false });
    let logId: string;
    let treeId: string;
    try {
      const identity = first.app.get(LogIdentity);
      logId = identity.logIdHex;
      treeId = identity.treeId;
      assert.equal(statSync(keyPath).mode & 0o777, 0o600);
      const onDisk = LogSigningKey.fromPem(readFileSync(keyPath, 'utf8'));
      assert.equal(onDisk.algorithm, 'ecdsa-p256');
      assert.equal(onDisk.publicKey.logIdHex, logId);
      assert.equal(first.app.get<LogPublicKey>(LOG_PUBLIC_KEY).logIdHex, logId);
      const log = first.logger.lines.join('\n');
      assert.match(log, /generated a new ECDSA P-256 log key/);
      assert.ok(log.includes(identity.publicKey.pem.trimEnd()), 'public key PEM logged');
      assert.ok(log.includes(logId), 'logID logged');

      assert.match(treeId, /^[1-9][0-9]*$/);
      assert.ok(BigInt(treeId) < 2n ** 63n);
      assert.equal(identity.treeIdHex, BigInt(treeId).toString(16).padStart(16, '0'));
      assert.equal(identity.hostname, 'vellum.test');
      assert.equal(identity.origin, `vellum.test - ${treeId}`);
      const leaf = Buffer.alloc(32, 0xab);
      assert.equal(identity.entryId(leaf), identity.treeIdHex + 'ab'.repeat(32));
      assert.equal(identity.entryId(leaf).length, 80);
    } finally {
      await first.app.close();
    }

    const second = await boot(testConfig(db), { writer: false });
    try {
      const identity = second.app.get(LogIdentity);
      assert.equal(identity.logIdHex, logId);
      assert.equal(identity.treeId, treeId);
      assert.match(second.logger.lines.join('\n'), /loaded ECDSA P-256 log key/);
    } finally {
      await second.app.close();
    }
  }));

test('signer: an explicit SIGNING_KEY_PATH that does not exist stops the boot with a clear error', () =>
  withDb(async (db) => {
    const missing = join(db.dataDir, 'nope.pem');
    await assert.rejects(
      boot(testConfig(db, { SIGNING_KEY_PATH: missing }), { writer: false }),
      (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.variable, 'SIGNING_KEY_PATH');
        assert.ok(e.message.includes(missing));
        assert.match(e.message, /does not exist/);
        return true;
      },
    );
    assert.throws(() => statSync(missing), 'nothing generated at the explicit path');
  }));

test('signer: loads SEC1 P-256 and PKCS#8 Ed25519 keys; checkpoints and SETs verify under the public key', () =>
  withDb(async (db) => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ed = generateKeyPairSync('ed25519');
    const cases = [
      {
        file: 'ec-sec1.pem',
        pem: ec.privateKey.export({ type: 'sec1', format: 'pem' }) as string,
        pub: ec.publicKey,
      },
      {
        file: 'ed.pem',
        pem: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
        pub: ed.publicKey,
      },
    ];
    for (const c of cases) {
      const path = join(db.dataDir, c.file);
      writeFileSync(path, c.pem, { mode: 0o600 });
      const booted = await boot(testConfig(db, { SIGNING_KEY_PATH: path }), { writer: false });
      try {
        const identity = booted.app.get(LogIdentity);
        const signer = booted.app.get(LogSigner);
        const expected = LogPublicKey.fromDer(c.pub.export({ type: 'spki', format: 'der' }));
        assert.equal(identity.logIdHex, expected.logIdHex);

        const root = Buffer.alloc(32, 7);
        const note = signer.signCheckpoint(12, root);
        const cp = verifyRekorCheckpoint(note, expected, 'vellum.test');
        assert.equal(cp.origin, identity.origin);
        assert.equal(cp.size, 12);
        assert.ok(cp.rootHash.equals(root));
        assert.match(note, /\n\n\u2014 vellum\.test /);

        const fields = {
          body: Buffer.from('{}').toString('base64'),
          integratedTime: 1700000000,
          logID: identity.logIdHex,
          logIndex: 3,
        };
        const set = signer.signSet(fields);
        verifySet(expected, fields, set);
        assert.throws(
          () => verifySet(expected, { ...fields, logIndex: 4 }, set),
          (e) => isVellumError(e, 'INVALID_SET'),
        );
      } finally {
        await booted.app.close();
      }
    }
  }));

test('signer: a key of an unsupported type stops the boot naming SIGNING_KEY_PATH', () =>
  withDb(async (db) => {
    const path = join(db.dataDir, 'p384.pem');
    const k = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    writeFileSync(path, k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    await assert.rejects(boot(testConfig(db, { SIGNING_KEY_PATH: path }), { writer: false }), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /SIGNING_KEY_PATH: .*p384\.pem is not a usable log key/);
      return true;
    });
  }));
