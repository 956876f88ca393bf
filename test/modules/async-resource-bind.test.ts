import assert from 'node:assert/strict';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { test } from 'node:test';
import { installLeanAsyncResourceBind } from '../../src/modules/http/async-resource-bind';

test('lean AsyncResource.bind: same scope, this, thisArg and length, without the DEP0172 accessor', async () => {
  installLeanAsyncResourceBind();
  installLeanAsyncResourceBind();
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w.name);
  };
  process.on('warning', onWarning);
  try {
    const als = new AsyncLocalStorage<string>();
    const resource = als.run('request-1', () => new AsyncResource('test'));
    const bound = resource.bind(function (this: unknown, a: number, b: number) {
      return { store: als.getStore(), self: this, sum: a + b };
    });
    assert.equal(bound.length, 2);
    assert.equal(Object.prototype.hasOwnProperty.call(bound, 'asyncResource'), false);
    // Called from another context, it runs in the resource's: what Fastify's body callback needs.
    const holder = { bound };
    const out = als.run('request-2', () => holder.bound(2, 3));
    assert.deepEqual(out, { store: 'request-1', self: holder, sum: 5 });

    const self = { name: 'fixed' };
    // Node's bind takes a thisArg too; its typings here name only fn.
    const bindWith = resource.bind.bind(resource) as unknown as <F>(fn: F, thisArg: unknown) => F;
    const withThis = bindWith(function (this: unknown) {
      return [this, als.getStore()];
    }, self);
    assert.deepEqual(
      als.run('other', () => withThis()),
      [self, 'request-1'],
    );
    // The static form goes through the same prototype method.
    const st = als.run('static', () => AsyncResource.bind(() => als.getStore()));
    assert.equal(st(), 'static');

    const thrown = (): unknown => resource.bind('x' as unknown as () => void);
    assert.throws(thrown, { code: 'ERR_INVALID_ARG_TYPE' });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
});
