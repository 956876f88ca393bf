/**
 * Bounded work per JSON body: every POST route refuses a body nested deeper than MAX_JSON_DEPTH
 * with a 400 JSON error before anything walks it (a 10,000-deep search body used to overflow
 * JSON.stringify into a 500), and random nested bodies up to and past the limit are answered
 * 2xx or 4xx, never 5xx, and change nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { MAX_JSON_DEPTH } from '../../src/core/json-limits';
import { hashedrekord, newP256Key } from './fixtures';
import { repoRoot } from '../support/paths';
import { http, postJson, startTestServer, type TestServer } from '../support/server';

const ADMIN_TOKEN = 'deep-json-admin-token-0123456789';

/** Every POST route the committed OpenAPI document lists, path parameters filled in. */
function postRoutes(): string[] {
  const doc = JSON.parse(readFileSync(join(repoRoot(), 'openapi', 'openapi.json'), 'utf8')) as {
    paths: Record<string, Record<string, unknown>>;
  };
  return Object.entries(doc.paths)
    .filter(([, ops]) => 'post' in ops)
    .map(([p]) => p.replace(/\{[^}]+\}/g, '1'));
}

/** Nesting depth of a parsed value (0 for scalars). */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
  return 1 + children.reduce<number>((m, c) => Math.max(m, depthOf(c)), 0);
}

describe('JSON bodies are bounded in depth on every POST route', () => {
  let server: TestServer;
  const routes = postRoutes();
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

  /** What must not change: the tree, and the monitor's rules, expectations and webhooks. */
  async function state(): Promise<string> {
    const parts = [(await http(`${server.url}/api/v1/log`)).json.treeSize];
    for (const p of ['rules', 'expectations', 'webhooks'])
      parts.push((await http(`${server.url}/v1/monitor/${p}`, { headers: auth })).text);
    return JSON.stringify(parts);
  }
  let baseline: string;

  before(async () => {
    server = await startTestServer({ env: { ADMIN_TOKEN } });
    const r = await postJson(`${server.url}/api/v1/log/entries`, hashedrekord(newP256Key()).proposed);
    assert.equal(r.status, 201, r.text);
    baseline = await state();
  });
  after(async () => {
    assert.equal(await state(), baseline, 'no deep body changed anything');
    assert.doesNotMatch(server.output(), /Maximum call stack|RangeError/);
    await server?.dispose();
  });

  test('the route list covers the submission, search and admin routes', () => {
    for (const r of ['/api/v1/log/entries', '/api/v1/log/entries/retrieve', '/api/v1/index/retrieve'])
      assert.ok(routes.includes(r), r);
    assert.ok(routes.includes('/api/v2/log/entries'));
    assert.ok(routes.some((r) => r.startsWith('/v1/monitor/')));
  });

  test('10,000-deep bodies get a 400 JSON error on every POST route', async () => {
    const deep = 10_000;
    const bodies = [
      // The shape from the report: a search by entry nesting inside its one entry.
      `{"entries":[${'{"a":'.repeat(deep)}1${'}'.repeat(deep)}]}`,
      '['.repeat(deep) + ']'.repeat(deep),
    ];
    for (const route of routes) {
      for (const body of bodies) {
        const r = await http(server.url + route, { method: 'POST', body, headers: auth });
        assert.equal(r.status, 400, `${route}: ${r.text}`);
        assert.equal(typeof r.json, 'object', `${route}: JSON error body`);
        assert.match(r.json.message, new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`), route);
      }
    }
  });

  test('a search body at the limit reaches the handler; one level more does not', async () => {
    // {"entries":[ X ]} with X nested so the whole body is exactly `depth` deep.
    const body = (depth: number) => `{"entries":[${'{"a":'.repeat(depth - 2)}1${'}'.repeat(depth - 2)}]}`;
    const url = `${server.url}/api/v1/log/entries/retrieve`;
    const at = await http(url, { method: 'POST', body: body(MAX_JSON_DEPTH) });
    assert.ok(at.status >= 400 && at.status < 500, at.text);
    assert.doesNotMatch(at.text, /nested deeper/);
    const over = await http(url, { method: 'POST', body: body(MAX_JSON_DEPTH + 1) });
    assert.equal(over.status, 400, over.text);
    assert.match(over.text, /nested deeper/);
  });

  test('property: random nested JSON up to and past the limit is answered 2xx/4xx, never 5xx', async () => {
    const key = fc.constantFrom('entries', 'entryUUIDs', 'logIndexes', 'spec', 'kind', 'hash', 'a', '');
    const leaf = fc.jsonValue({ maxDepth: 2 });
    // A chain of wrappers (arrays or objects under honest-looking keys) around a random value.
    // Lengths are drawn uniformly so that bodies just past the limit come up often.
    const wrappers = fc
      .integer({ min: 0, max: MAX_JSON_DEPTH + 4 })
      .chain((n) => fc.array(fc.option(key, { nil: undefined }), { minLength: n, maxLength: n }));
    const value = fc
      .tuple(wrappers, leaf)
      .map(([ws, v]) =>
        ws.reduceRight<unknown>((inner, k) => (k === undefined ? [inner] : { [k]: inner }), v),
      );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), value, async (route, v) => {
        const started = Date.now();
        const r = await http(server.url + route, { method: 'POST', body: JSON.stringify(v), headers: auth });
        assert.ok(r.status < 500, `${route} ${JSON.stringify(v)} -> ${r.status} ${r.text}`);
        assert.ok(Date.now() - started < 5_000, 'answered within 5 s');
        if (depthOf(v) > MAX_JSON_DEPTH) assert.equal(r.status, 400, r.text);
      }),
      { numRuns: 300 },
    );
  });
});
