/**
 * Entry size policy: C2SP tlog-tiles entry bundles carry each canonical body behind a uint16
 * length, so Vellum refuses, at submission, any entry whose canonical body exceeds 65,535 bytes
 * (413 TOO_LARGE naming the limit) and changes nothing; an entry just below it is logged and
 * served through its entry bundle. The bodies are made large honestly: a hashedrekord whose
 * certificate carries many SANs, signed by the certificate's key.
 */
import assert from 'node:assert/strict';
import { createHash, sign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { prepareEntry, referenceVerifier } from '../../src/core/entries';
import { isVellumError } from '../../src/core/errors';
import { decodeEntryBundle, MAX_BUNDLE_ENTRY_SIZE } from '../../src/core/tiles/tiles';
import { http, startTestServer, type TestServer } from '../support/server';
import { buildCertificate } from '../support/x509-builder';

/** A signed hashedrekord whose certificate holds `sans` DNS names (about 22 bytes each). */
function bigEntry(sans: number) {
  const cert = buildCertificate({
    sans: Array.from({ length: sans }, (_, i) => ({ dns: `host-${i}.size.example` })),
  });
  const artifact = Buffer.from(`artifact with ${sans} names`);
  const digest = createHash('sha256').update(artifact).digest('hex');
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest } },
      signature: {
        content: sign('sha256', artifact, cert.keys.privateKey).toString('base64'),
        publicKey: { content: Buffer.from(cert.pem).toString('base64') },
      },
    },
  };
}

/** SAN counts that put the canonical body just below and just above the limit. */
function sizes(): { below: number; above: number } {
  const size = (n: number) => prepareEntry(bigEntry(n), referenceVerifier, { forSearch: true }).body.length;
  let n = 100;
  while (size(n) <= MAX_BUNDLE_ENTRY_SIZE) n += 100;
  let below = n - 100;
  while (size(below + 1) <= MAX_BUNDLE_ENTRY_SIZE) below++;
  return { below, above: below + 1 };
}

describe('entry size policy (C2SP entry bundles: uint16 lengths)', () => {
  let server: TestServer;
  let counts: { below: number; above: number };
  before(async () => {
    server = await startTestServer();
    counts = sizes();
  });
  after(async () => {
    await server?.dispose();
  });

  test('prepareEntry refuses a canonical body over 65,535 bytes with TOO_LARGE; a search may still name it', () => {
    const big = bigEntry(counts.above);
    assert.throws(
      () => prepareEntry(big, referenceVerifier),
      (e) => isVellumError(e, 'TOO_LARGE') && /at most 65535 bytes/.test(e.message),
    );
    assert.ok(prepareEntry(big, referenceVerifier, { forSearch: true }).body.length > MAX_BUNDLE_ENTRY_SIZE);
    assert.equal(
      prepareEntry(bigEntry(counts.below), referenceVerifier).body.length <= MAX_BUNDLE_ENTRY_SIZE,
      true,
    );
  });

  test('over HTTP: 413 JSON naming the limit, nothing logged; just below the limit is logged and served as a tile', async () => {
    const before = (await http(`${server.url}/api/v1/log`)).json;
    const res = await http(`${server.url}/api/v1/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bigEntry(counts.above)),
    });
    assert.equal(res.status, 413);
    assert.equal(res.json.code, 413);
    assert.match(res.json.message, /at most 65535 bytes/);
    const afterReject = (await http(`${server.url}/api/v1/log`)).json;
    assert.equal(afterReject.treeSize, before.treeSize, 'nothing was logged');

    const ok = await http(`${server.url}/api/v1/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bigEntry(counts.below)),
    });
    assert.equal(ok.status, 201, ok.text);
    const [entry] = Object.values(ok.json) as any[];
    const body = Buffer.from(entry.body, 'base64');
    assert.ok(
      body.length > MAX_BUNDLE_ENTRY_SIZE - 100 && body.length <= MAX_BUNDLE_ENTRY_SIZE,
      String(body.length),
    );
    const size = entry.verification.inclusionProof.treeSize;
    const tile = await fetch(`${server.url}/tile/entries/000.p/${size}`);
    assert.equal(tile.status, 200);
    const bodies = decodeEntryBundle(Buffer.from(await tile.arrayBuffer()));
    assert.ok(bodies[entry.logIndex]!.equals(body));
  });
});
