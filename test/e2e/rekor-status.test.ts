import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashedrekord, newP256Key } from './fixtures';
import { http, postJson, Reply, startTestServer, TestServer } from '../support/server';

/**
 * Bad parameters on every Rekor v1 endpoint, each answered with the status and `code` Rekor
 * answers. The expectations come from Rekor's go-swagger server: binding failures of a JSON body
 * (encoding/json refusing a type) are 400/400, openapi.yaml violations are 422 with go-openapi's
 * 6xx codes, handler checks are 400, and a repeated query parameter is read from its last
 * occurrence. Nothing here may grow the tree.
 */

interface Case {
  readonly name: string;
  readonly method?: 'GET' | 'POST';
  readonly path: string;
  /** JSON value to post; `raw` wins when given. */
  readonly body?: unknown;
  readonly raw?: string;
  readonly status: number;
  /** The body's `code`; undefined for answers that are not errors. */
  readonly code?: number;
  readonly message?: string | RegExp;
}

const TREE_ID_PATTERN_MSG = "treeID in query should match '^[0-9]+$'";
const ENTRY_PARSE = /^parsing entry body from "" failed, because /;
const QUERY_PARSE = /^parsing query body from "" failed, because /;

describe('Rekor v1 status codes for bad parameters', () => {
  let server: TestServer;
  let baseline: number;
  let treeId: string;
  let entryUuid: string;
  let proposed: Record<string, unknown>;

  before(async () => {
    server = await startTestServer();
    const key = newP256Key();
    proposed = hashedrekord(key).proposed as Record<string, unknown>;
    const r = await postJson(server.url + '/api/v1/log/entries', proposed);
    assert.equal(r.status, 201, r.text);
    entryUuid = Object.keys(r.json)[0];
    const info = await http(server.url + '/api/v1/log');
    baseline = info.json.treeSize;
    treeId = info.json.treeID;
  });
  after(async () => {
    const info = await http(server.url + '/api/v1/log');
    assert.equal(info.json.treeSize, baseline, 'no bad request grew the tree');
    await server?.dispose();
  });

  async function run(cases: readonly Case[]): Promise<Reply[]> {
    const replies: Reply[] = [];
    for (const c of cases) {
      const url = server.url + c.path;
      const r =
        c.raw !== undefined
          ? await http(url, { method: 'POST', body: c.raw })
          : c.body !== undefined
            ? await postJson(url, c.body)
            : await http(url, { method: c.method ?? 'GET', headers: { 'content-type': 'application/json' } });
      const where = `${c.name} (${c.path}): ${r.text.slice(0, 300)}`;
      assert.equal(r.status, c.status, where);
      if (c.code !== undefined) {
        assert.match(r.headers.get('content-type') ?? '', /^application\/json/, where);
        assert.deepEqual(Object.keys(r.json).sort(), ['code', 'message'], where);
        assert.equal(r.json.code, c.code, where);
        if (typeof c.message === 'string') assert.equal(r.json.message, c.message, where);
        else if (c.message) assert.match(r.json.message, c.message, where);
      }
      replies.push(r);
    }
    return replies;
  }

  test('GET /api/v1/log/entries?logIndex=', async () => {
    const p = '/api/v1/log/entries';
    await run([
      { name: 'missing', path: p, status: 422, code: 602, message: 'logIndex in query is required' },
      { name: 'empty', path: `${p}?logIndex=`, status: 422, code: 602 },
      { name: 'negative', path: `${p}?logIndex=-1`, status: 422, code: 609 },
      { name: 'not a number', path: `${p}?logIndex=abc`, status: 422, code: 601 },
      { name: 'fraction', path: `${p}?logIndex=1.5`, status: 422, code: 601 },
      { name: 'int64 overflow', path: `${p}?logIndex=9223372036854775808`, status: 422, code: 601 },
      { name: 'last of repeated is bad', path: `${p}?logIndex=0&logIndex=abc`, status: 422, code: 601 },
      { name: 'last of repeated is good', path: `${p}?logIndex=abc&logIndex=0`, status: 200 },
      { name: 'beyond the tree', path: `${p}?logIndex=${baseline + 10}`, status: 404 },
    ]);
  });

  test('GET /api/v1/log/entries/{entryUUID}', async () => {
    const p = '/api/v1/log/entries/';
    const [, , , upper] = await run([
      {
        name: 'not hex',
        path: `${p}xyz`,
        status: 422,
        code: 605,
        message: /^entryUUID in path should match/,
      },
      { name: 'bad length', path: p + 'a'.repeat(70), status: 422, code: 605 },
      {
        name: 'tree id beyond int64',
        path: p + 'f'.repeat(80),
        status: 400,
        code: 400,
        message: /^validation error/,
      },
      { name: 'upper-case hex matches the pattern', path: p + entryUuid.toUpperCase(), status: 200 },
      { name: 'unknown leaf', path: p + 'ab'.repeat(32), status: 404 },
    ]);
    assert.deepEqual(Object.keys(upper.json), [entryUuid]);
  });

  test('GET /api/v1/log/proof', async () => {
    const p = '/api/v1/log/proof';
    await run([
      { name: 'lastSize missing', path: p, status: 422, code: 602, message: 'lastSize in query is required' },
      { name: 'firstSize 0', path: `${p}?firstSize=0&lastSize=1`, status: 422, code: 609 },
      { name: 'lastSize 0', path: `${p}?lastSize=0`, status: 422, code: 609 },
      { name: 'lastSize not int', path: `${p}?lastSize=x`, status: 422, code: 601 },
      {
        name: 'treeID not digits',
        path: `${p}?lastSize=1&treeID=abc`,
        status: 422,
        code: 605,
        message: TREE_ID_PATTERN_MSG,
      },
      { name: 'treeID signed', path: `${p}?lastSize=1&treeID=-1`, status: 422, code: 605 },
      { name: 'treeID plus', path: `${p}?lastSize=1&treeID=%2B1`, status: 422, code: 605 },
      // Binding order: the integer parameters are checked before treeID ...
      { name: 'lastSize before treeID', path: `${p}?lastSize=x&treeID=abc`, status: 422, code: 601 },
      // ... and all parameter validation before the handler's own checks.
      {
        name: 'pattern before sizes',
        path: `${p}?firstSize=2&lastSize=1&treeID=abc`,
        status: 422,
        code: 605,
      },
      {
        name: 'sizes before tree lookup',
        path: `${p}?firstSize=2&lastSize=1&treeID=12345`,
        status: 400,
        code: 400,
        message: 'firstSize(2) must be less than lastSize(1)',
      },
      {
        name: 'treeID beyond int64',
        path: `${p}?lastSize=1&treeID=99999999999999999999`,
        status: 400,
        code: 400,
        message: 'invalid tree ID specified: 99999999999999999999',
      },
      {
        name: 'unknown tree',
        path: `${p}?lastSize=1&treeID=12345`,
        status: 400,
        code: 400,
        message: 'no log range found for tree ID 12345',
      },
      {
        name: 'lastSize beyond the tree',
        path: `${p}?lastSize=${baseline + 5}`,
        status: 400,
        code: 400,
        message: `the tree size requested(${baseline + 5}) was greater than what is currently observable(${baseline})`,
      },
      { name: 'empty treeID is absent', path: `${p}?lastSize=1&treeID=`, status: 200 },
      { name: 'treeID with a leading zero', path: `${p}?lastSize=1&treeID=0${treeId}`, status: 200 },
      { name: 'last treeID counts', path: `${p}?lastSize=1&treeID=abc&treeID=${treeId}`, status: 200 },
      { name: 'last lastSize counts', path: `${p}?lastSize=x&lastSize=1`, status: 200 },
      { name: 'last lastSize is bad', path: `${p}?lastSize=1&lastSize=x`, status: 422, code: 601 },
    ]);
  });

  test('GET /api/v1/log/publicKey', async () => {
    const p = '/api/v1/log/publicKey';
    const [, , , ok] = await run([
      {
        name: 'treeID not digits',
        path: `${p}?treeID=abc`,
        status: 422,
        code: 605,
        message: TREE_ID_PATTERN_MSG,
      },
      { name: 'unknown tree', path: `${p}?treeID=12345`, status: 400, code: 400, message: 'Bad Request' },
      { name: 'treeID beyond int64', path: `${p}?treeID=99999999999999999999`, status: 400, code: 400 },
      { name: 'own tree', path: `${p}?treeID=${treeId}`, status: 200 },
      { name: 'last treeID counts', path: `${p}?treeID=${treeId}&treeID=x`, status: 422, code: 605 },
    ]);
    assert.equal(ok.text, server.publicKeyPem);
    assert.match(ok.headers.get('content-type') ?? '', /^application\/x-pem-file/);
  });

  test('POST /api/v1/log/entries/retrieve', async () => {
    const p = '/api/v1/log/entries/retrieve';
    const uuid = 'ab'.repeat(32);
    const tooMany = Array.from({ length: 11 }, () => uuid);
    const unverifiable = JSON.parse(JSON.stringify(proposed));
    unverifiable.spec.data.hash.value = unverifiable.spec.data.hash.value.slice(0, 62);
    const replies = await run([
      {
        name: 'no body',
        method: 'POST',
        path: p,
        status: 422,
        code: 602,
        message: 'entry in body is required',
      },
      { name: 'malformed JSON', path: p, raw: '[1,', status: 400, code: 400 },
      { name: 'array body', path: p, body: [], status: 400, code: 400, message: ENTRY_PARSE },
      { name: 'string body', path: p, body: 'x', status: 400, code: 400, message: ENTRY_PARSE },
      {
        name: 'entryUUIDs not array',
        path: p,
        body: { entryUUIDs: uuid },
        status: 400,
        code: 400,
        message: ENTRY_PARSE,
      },
      { name: 'entryUUIDs item number', path: p, body: { entryUUIDs: [1] }, status: 400, code: 400 },
      { name: 'logIndexes not array', path: p, body: { logIndexes: 0 }, status: 400, code: 400 },
      { name: 'logIndexes item string', path: p, body: { logIndexes: ['0'] }, status: 400, code: 400 },
      { name: 'logIndexes item fraction', path: p, body: { logIndexes: [1.5] }, status: 400, code: 400 },
      { name: 'logIndexes item bool', path: p, body: { logIndexes: [true] }, status: 400, code: 400 },
      { name: 'logIndexes beyond int64', path: p, raw: '{"logIndexes":[1e19]}', status: 400, code: 400 },
      { name: 'entries not array', path: p, body: { entries: {} }, status: 400, code: 400 },
      { name: 'entries item number', path: p, body: { entries: [1] }, status: 400, code: 400 },
      { name: 'entries item without kind', path: p, body: { entries: [{}] }, status: 400, code: 400 },
      { name: 'entries unknown kind', path: p, body: { entries: [{ kind: 'foo' }] }, status: 400, code: 400 },
      { name: 'entries kind not string', path: p, body: { entries: [{ kind: 5 }] }, status: 400, code: 400 },
      {
        name: 'entries apiVersion not string',
        path: p,
        body: { entries: [{ ...proposed, apiVersion: 1 }] },
        status: 400,
        code: 400,
      },
      // Decoding finishes before any validation: the type error wins over the bound.
      {
        name: 'type error beats bound',
        path: p,
        body: { logIndexes: [-1], entryUUIDs: 'x' },
        status: 400,
        code: 400,
      },
      { name: 'entryUUIDs empty', path: p, body: { entryUUIDs: [] }, status: 422, code: 612 },
      { name: 'entryUUIDs too many', path: p, body: { entryUUIDs: tooMany }, status: 422, code: 611 },
      { name: 'entryUUIDs pattern', path: p, body: { entryUUIDs: ['zz'] }, status: 422, code: 605 },
      { name: 'entryUUIDs null item', path: p, body: { entryUUIDs: [null] }, status: 422, code: 605 },
      { name: 'logIndexes empty', path: p, body: { logIndexes: [] }, status: 422, code: 612 },
      { name: 'logIndexes negative', path: p, body: { logIndexes: [-1] }, status: 422, code: 609 },
      {
        name: 'logIndexes too many',
        path: p,
        body: { logIndexes: tooMany.map((_, i) => i) },
        status: 422,
        code: 611,
        message: 'logIndexes in body should have at most 10 items',
      },
      {
        name: 'proposed entry without spec',
        path: p,
        body: { entries: [{ kind: 'hashedrekord', apiVersion: '0.0.1' }] },
        status: 422,
        code: 602,
      },
      {
        name: 'proposed entry with a bad apiVersion',
        path: p,
        body: { entries: [{ ...proposed, apiVersion: 'one' }] },
        status: 422,
        code: 605,
      },
      {
        name: 'proposed entry that does not verify',
        path: p,
        body: { entries: [unverifiable] },
        status: 400,
        code: 400,
        message: 'error processing entry: invalid value for hash',
      },
      {
        name: 'entries too many',
        path: p,
        body: { entries: tooMany.map(() => proposed) },
        status: 422,
        code: 611,
      },
      {
        name: 'total over 10',
        path: p,
        body: { logIndexes: [0, 1, 2, 3, 4, 5], entryUUIDs: tooMany.slice(0, 5) },
        status: 422,
        code: 422,
        message: 'more than max allowed 10 entries in request',
      },
      {
        name: 'EntryID of a tree beyond int64',
        path: p,
        body: { entryUUIDs: ['f'.repeat(16) + uuid] },
        status: 400,
        code: 400,
        message: /^invalid entryID/,
      },
      // Accepted as Rekor accepts them:
      { name: 'null body', path: p, raw: 'null', status: 200 },
      { name: 'empty entries is absent', path: p, body: { entries: [] }, status: 200 },
      { name: 'unknown field ignored', path: p, body: { other: 1 }, status: 200 },
      { name: 'null logIndexes item reads index 0', path: p, body: { logIndexes: [null] }, status: 200 },
      { name: 'upper-case entryUUID', path: p, body: { entryUUIDs: [entryUuid.toUpperCase()] }, status: 200 },
    ]);
    const accepted = replies.slice(-4).map((r) => r.json);
    assert.deepEqual(accepted.slice(0, 2), [[], []]);
    assert.deepEqual(Object.keys(accepted[2][0]), [entryUuid], 'null index is index 0');
    assert.deepEqual(Object.keys(accepted[3][0]), [entryUuid]);
  });

  test('POST /api/v1/index/retrieve', async () => {
    const p = '/api/v1/index/retrieve';
    const hash = 'ab'.repeat(32);
    const junkKey = Buffer.from('junk').toString('base64');
    await run([
      {
        name: 'no body',
        method: 'POST',
        path: p,
        status: 422,
        code: 602,
        message: 'query in body is required',
      },
      { name: 'malformed JSON', path: p, raw: '{', status: 400, code: 400 },
      { name: 'array body', path: p, body: [], status: 400, code: 400, message: QUERY_PARSE },
      { name: 'hash not string', path: p, body: { hash: 5 }, status: 400, code: 400, message: QUERY_PARSE },
      { name: 'email not string', path: p, body: { email: 5 }, status: 400, code: 400 },
      { name: 'operator not string', path: p, body: { operator: 1 }, status: 400, code: 400 },
      { name: 'subject not string', path: p, body: { subject: [] }, status: 400, code: 400 },
      { name: 'publicKey not object', path: p, body: { publicKey: 'x' }, status: 400, code: 400 },
      { name: 'format not string', path: p, body: { publicKey: { format: 1 } }, status: 400, code: 400 },
      {
        name: 'content not string',
        path: p,
        body: { publicKey: { format: 'x509', content: 5 } },
        status: 400,
        code: 400,
      },
      {
        name: 'content not base64',
        path: p,
        body: { publicKey: { format: 'x509', content: '!!' } },
        status: 400,
        code: 400,
        message: QUERY_PARSE,
      },
      { name: 'type error beats pattern', path: p, body: { hash: 'xyz', email: 5 }, status: 400, code: 400 },
      { name: 'email format', path: p, body: { email: 'nope' }, status: 422, code: 601 },
      {
        name: 'hash pattern',
        path: p,
        body: { hash: 'xyz' },
        status: 422,
        code: 605,
        message: /^hash in body should match/,
      },
      { name: 'email before hash', path: p, body: { hash: 'xyz', email: 'nope' }, status: 422, code: 601 },
      { name: 'operator enum', path: p, body: { operator: 'xor', hash }, status: 422, code: 606 },
      {
        name: 'hash before operator',
        path: p,
        body: { operator: 'xor', hash: 'xyz' },
        status: 422,
        code: 605,
      },
      {
        name: 'format required',
        path: p,
        body: { publicKey: { content: 'AAAA' } },
        status: 422,
        code: 602,
        message: 'publicKey.format in body is required',
      },
      { name: 'format enum', path: p, body: { publicKey: { format: 'gpg' } }, status: 422, code: 606 },
      { name: 'format empty', path: p, body: { publicKey: { format: '' } }, status: 422, code: 606 },
      { name: 'subject too long', path: p, body: { subject: 'x'.repeat(513) }, status: 422, code: 603 },
      {
        name: 'unsupported format',
        path: p,
        body: { publicKey: { format: 'pgp', content: 'AAAA' } },
        status: 400,
        code: 400,
        message: 'the PKI format requested is not supported by this server',
      },
      {
        name: 'unparsable key',
        path: p,
        body: { publicKey: { format: 'x509', content: junkKey } },
        status: 400,
        code: 400,
        message: 'public key provided could not be parsed',
      },
      // Accepted as Rekor accepts them:
      { name: 'null body', path: p, raw: 'null', status: 200 },
      { name: 'upper-case hash', path: p, body: { hash: hash.toUpperCase() }, status: 200 },
      { name: 'empty operator is "or"', path: p, body: { operator: '', hash }, status: 200 },
      { name: 'empty subject is absent', path: p, body: { subject: '' }, status: 200 },
      // 300 code points (600 UTF-16 units): within Rekor's 512, which counts runes.
      {
        name: 'subject counted in code points',
        path: p,
        body: { subject: '\u{1F600}'.repeat(300) },
        status: 200,
      },
    ]);
  });
});
