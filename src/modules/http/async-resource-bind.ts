import { AsyncResource } from 'node:async_hooks';

const LEAN = Symbol.for('vellum.leanAsyncResourceBind');

type Bindable = (...args: never[]) => unknown;

/**
 * Fastify binds the body parser's callback to an AsyncResource on every request with a body
 * (`ContentTypeParser.run`). On Node 20 `AsyncResource.prototype.bind` also defines the
 * `asyncResource` accessor on the bound function, runtime-deprecated as DEP0172, and building it
 * wraps two functions in `util.deprecate` per call: about 1.5% of the main thread per submission.
 * Node has since moved DEP0172 to End-of-Life (nodejs/node#58618): bound functions no longer carry
 * the property. This installs that behaviour: the same bound function (the resource's async scope,
 * `this` passed through, or `thisArg` when given, and the original `length`), without the
 * deprecated property. Nothing in Vellum or its dependencies reads it. Idempotent.
 */
export function installLeanAsyncResourceBind(): void {
  const proto = AsyncResource.prototype as unknown as Record<symbol, unknown> & {
    bind: (fn: Bindable, thisArg?: unknown) => Bindable;
  };
  if (proto[LEAN] === true) return;
  proto.bind = function bind(this: AsyncResource, fn: Bindable, thisArg?: unknown): Bindable {
    if (typeof fn !== 'function') {
      throw Object.assign(new TypeError('The "fn" argument must be of type function'), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
    }
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const resource = this;
    const bound =
      thisArg === undefined
        ? function (this: unknown, ...args: unknown[]): unknown {
            return resource.runInAsyncScope(fn as (...a: unknown[]) => unknown, this, ...args);
          }
        : (...args: unknown[]): unknown =>
            resource.runInAsyncScope(fn as (...a: unknown[]) => unknown, thisArg, ...args);
    Object.defineProperty(bound, 'length', {
      configurable: true,
      enumerable: false,
      value: fn.length,
      writable: false,
    });
    return bound as Bindable;
  };
  proto[LEAN] = true;
}
