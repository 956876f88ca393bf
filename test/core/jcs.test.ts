import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalBytes, canonicalize } from '../../src/core/jcs';
import { isVellumError } from '../../src/core/errors';

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt('0x' + hex));
  return view.getFloat64(0);
}

const rejectsArg = (fn: () => unknown) => assert.throws(fn, (e) => isVellumError(e, 'INVALID_ARGUMENT'));

describe('JCS (RFC 8785)', () => {
  it('serialises numbers exactly as RFC 8785 Appendix B (IEEE 754 bit patterns)', () => {
    const table: Array<[string, string]> = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'], // -0
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [bits, want] of table) assert.equal(canonicalize(fromBits(bits)), want, bits);
    assert.equal(canonicalize(1e21), '1e+21');
    assert.equal(canonicalize(1e20), '100000000000000000000');
    assert.equal(canonicalize(Number.MAX_SAFE_INTEGER), '9007199254740991');
  });

  it('rejects non-finite numbers', () => {
    for (const bits of ['7ff0000000000000', 'fff0000000000000', '7ff8000000000000']) {
      rejectsArg(() => canonicalize({ n: fromBits(bits) }));
    }
  });

  it('reproduces the RFC 8785 §3.2.2 sample', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        ' "literals": [null, true, false]}',
    );
    assert.equal(
      canonicalize(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('escapes strings per spec: short forms, lowercase \\u00xx, nothing else', () => {
    let all = '';
    for (let c = 0; c < 0x20; c++) all += String.fromCharCode(c);
    const want =
      '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f' +
      '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"';
    assert.equal(canonicalize(all), want);
    // DEL, U+2028, '/', non-ASCII and astral characters are written raw.
    assert.equal(canonicalize('\u007f\u2028/é😀"\\'), '"\u007f\u2028/é😀\\"\\\\"');
    assert.deepEqual(canonicalBytes('é😀'), Buffer.from('22c3a9f09f988022', 'hex'));
  });

  it('sorts keys by UTF-16 code units, not code points (RFC 8785 §3.2.3)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Read the order from the text: Object.keys would list the integer-like key "1" first.
    const keys = [...canonicalize(input).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map(
      (m) => JSON.parse(`"${m[1]}"`) as string,
    );
    // U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FB33 although its code point is larger.
    assert.deepEqual(keys, ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33']);
    assert.equal(
      canonicalize({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: null } }),
      '{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}',
    );
    assert.equal(canonicalize({ '10': 1, '9': 2, a: 3 }), '{"10":1,"9":2,"a":3}');
  });

  it('rejects what JSON cannot hold exactly', () => {
    rejectsArg(() => canonicalize(undefined));
    rejectsArg(() => canonicalize({ a: undefined }));
    rejectsArg(() => canonicalize([1, undefined]));
    // eslint-disable-next-line no-sparse-arrays
    rejectsArg(() => canonicalize([1, , 2]));
    rejectsArg(() => canonicalize(() => 1));
    rejectsArg(() => canonicalize({ f: () => 1 }));
    rejectsArg(() => canonicalize(Symbol('x')));
    rejectsArg(() => canonicalize(10n));
    rejectsArg(() => canonicalize(new Date(0)));
    rejectsArg(() => canonicalize(new Map()));
    rejectsArg(() => canonicalize(Buffer.from('x')));
    rejectsArg(() => canonicalize('\ud800'));
    rejectsArg(() => canonicalize('a\udc00b'));
    rejectsArg(() => canonicalize({ ['\ud83d']: 1 }));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    rejectsArg(() => canonicalize(cyclic));
    const arr: unknown[] = [];
    arr.push(arr);
    rejectsArg(() => canonicalize(arr));
  });

  it('accepts shared (acyclic) references and null-prototype objects', () => {
    const shared = { x: 1 };
    assert.equal(canonicalize({ a: shared, b: [shared, shared] }), '{"a":{"x":1},"b":[{"x":1},{"x":1}]}');
    const bare = Object.create(null) as Record<string, unknown>;
    bare.k = 'v';
    assert.equal(canonicalize(bare), '{"k":"v"}');
  });

  it('property: parse(canonicalize(x)) equals x, output is idempotent and insertion-order independent', () => {
    // fast-check can emit -0, which JSON cannot carry; compare against the JSON image of x.
    const jsonImage = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
    const reverseKeys = (x: unknown): unknown => {
      if (Array.isArray(x)) return x.map(reverseKeys);
      if (x !== null && typeof x === 'object') {
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(x).reverse()) {
          Object.defineProperty(out, k, {
            value: reverseKeys((x as Record<string, unknown>)[k]),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
      return x;
    };
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'grapheme', maxDepth: 4 }), (x) => {
        const c = canonicalize(x);
        const back = JSON.parse(c) as unknown;
        assert.deepStrictEqual(back, jsonImage(x));
        assert.equal(canonicalize(back), c);
        assert.equal(canonicalize(reverseKeys(x)), c);
        assert.deepEqual(canonicalBytes(x), Buffer.from(c, 'utf8'));
      }),
      { numRuns: 400 },
    );
  });
});
