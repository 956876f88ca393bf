import assert from 'node:assert/strict';
import { createHash, randomBytes, sign } from 'node:crypto';
import { test } from 'node:test';
import { newP256Key } from '../e2e/fixtures';
import { leafHashOf, treeIdHexOf, verifyCheckpointNote, verifyInclusion } from '../support/verifier';
import { rekorV2LogIdOf } from '../support/trusted-root';
import { postJson as post } from '../support/server';
import { getJson, startCluster, withDeployment } from './harness';

test('postgres + Redis: a Rekor v2 entry sent to an API replica is sequenced, proven and found by the v1 search', (t) =>
  withDeployment(t, async (dep) => {
    const {
      apis: [api],
      ctx,
    } = await startCluster(dep);
    const key = newP256Key();
    const artifact = randomBytes(64);
    const digest = createHash('sha256').update(artifact).digest();
    const hashed = {
      hashedRekordRequestV002: {
        digest: digest.toString('base64'),
        signature: {
          content: sign('sha256', artifact, key.privateKey).toString('base64'),
          verifier: {
            x509Certificate: { rawBytes: key.der.toString('base64') },
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          },
        },
      },
    };
    const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');
    const payloadType = 'application/vnd.in-toto+json';
    const paeBytes = Buffer.concat([
      Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${payload.length} `),
      payload,
    ]);
    const dsse = {
      dsseRequestV002: {
        envelope: {
          payload: payload.toString('base64'),
          payloadType,
          signatures: [{ sig: sign('sha256', paeBytes, key.privateKey).toString('base64'), keyid: '' }],
        },
        verifiers: [
          { publicKey: { rawBytes: key.der.toString('base64') }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
        ],
      },
    };

    const uuids: string[] = [];
    for (const [kind, req] of [
      ['hashedrekord', hashed],
      ['dsse', dsse],
    ] as const) {
      const r = await post(`${api!.url}/api/v2/log/entries`, req);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      assert.deepEqual(r.json.kindVersion, { kind, version: '0.0.2' });
      assert.equal(r.json.logId.keyId, rekorV2LogIdOf(ctx.key, ctx.hostname).toString('base64'));
      const cp = verifyCheckpointNote(r.json.inclusionProof.checkpoint.envelope, ctx.key, ctx.hostname);
      assert.equal(Number(r.json.inclusionProof.treeSize), cp.size);
      const body = Buffer.from(r.json.canonicalizedBody, 'base64');
      const leaf = leafHashOf(body);
      verifyInclusion(
        leaf,
        Number(r.json.logIndex),
        cp.size,
        (r.json.inclusionProof.hashes as string[]).map((h) => Buffer.from(h, 'base64')),
        cp.rootHash,
      );
      const uuid = treeIdHexOf(ctx.treeId) + leaf.toString('hex');
      uuids.push(uuid);
      const got = await getJson(`${api!.url}/api/v1/log/entries/${uuid}`);
      assert.equal(got.status, 200);
      assert.equal(got.json[uuid].body, r.json.canonicalizedBody);

      const again = await post(`${api!.url}/api/v2/log/entries`, req);
      assert.equal(again.status, 409);
      assert.equal(again.headers.get('x-log-index'), r.json.logIndex);
    }

    const byHash = await post(`${api!.url}/api/v1/index/retrieve`, {
      hash: `sha256:${digest.toString('hex')}`,
    });
    assert.deepEqual(byHash.json, [uuids[0]]);
    const byKey = await post(`${api!.url}/api/v1/index/retrieve`, {
      publicKey: { format: 'x509', content: Buffer.from(key.pem).toString('base64') },
    });
    assert.deepEqual(new Set(byKey.json), new Set(uuids));
  }));
