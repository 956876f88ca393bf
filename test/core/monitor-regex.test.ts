import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { isVellumError } from '../../src/core/errors';
import { compileGlob, compileRegex, unescapedHostDots } from '../../src/core/monitor/regex';

const rejects = (expr: string, reason: RegExp) =>
  assert.throws(
    () => compileRegex(expr),
    (e) => isVellumError(e, 'INVALID_ARGUMENT') && reason.test(e.message),
    expr,
  );

describe('compileRegex: full-match semantics', () => {
  it('is anchored at both ends', () => {
    const r = compileRegex('user@domain\\.com');
    assert.equal(r.test('user@domain.com'), true);
    assert.equal(r.test('xuser@domain.com.evil'), false);
    assert.equal(r.test('xuser@domain.com'), false);
    assert.equal(r.test('user@domain.com.evil'), false);
    assert.equal(r.test('user@domainXcom'), false);
  });

  it('alternation is grouped inside the anchors', () => {
    const r = compileRegex('a|b');
    assert.equal(r.test('a'), true);
    assert.equal(r.test('ab'), false);
    assert.equal(r.test('xa'), false);
  });

  it('the spec example', () => {
    const r = compileRegex(
      'https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/v\\d+\\.\\d+\\.\\d+',
    );
    assert.equal(r.test('https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.2.3'), true);
    assert.equal(r.test('https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main'), false);
    assert.equal(
      r.test('https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.2.3-evil'),
      false,
    );
  });

  it('classes, escapes, counted repetition, word boundaries, explicit anchors', () => {
    const cases: Array<[string, string, boolean]> = [
      ['[a-c]+', 'abcabc', true],
      ['[^a-c]+', 'xyz', true],
      ['[^a-c]+', 'xaz', false],
      ['\\w+@\\w+', 'ab_1@c', true],
      ['\\s', '\t', true],
      ['\\S', ' ', false],
      ['a{2,3}', 'aaa', true],
      ['a{2,3}', 'aaaa', false],
      ['a{2}', 'aa', true],
      ['a{2,}', 'aaaaa', true],
      ['a{2,}', 'a', false],
      ['.', '\n', false],
      ['.', 'é', true],
      ['.', '😀', true],
      ['\\x41', 'A', true],
      ['[\\]\\-]+', ']-', true],
      ['a\\bb', 'ab', false],
      ['a\\b', 'a', true],
      ['a\\Bb', 'ab', true],
      ['^abc$', 'abc', true],
      ['(?:ab)+', 'abab', true],
      ['(?<x>ab)?c', 'c', true],
      ['a*?b', 'aab', true],
      ['', '', true],
      ['', 'a', false],
      ['(|a)b', 'b', true],
      ['\\@\\:\\-', '@:-', true],
    ];
    for (const [re, s, want] of cases)
      assert.equal(compileRegex(re).test(s), want, `${re} on ${JSON.stringify(s)}`);
  });
});

describe('compileRegex: RE2 syntax and rejections', () => {
  it('rejects backreferences with a reason', () => {
    rejects('(a)\\1', /backreferences/);
    rejects('(?<n>a)\\k<n>', /backreferences/);
  });
  it('rejects lookaround with a reason', () => {
    rejects('a(?=b)', /lookahead/);
    rejects('a(?!b)', /lookahead/);
    rejects('(?<=a)b', /lookbehind/);
    rejects('(?<!a)b', /lookbehind/);
  });
  it('lookaround and backreference lookalikes inside classes and \\Q…\\E are literal', () => {
    assert.equal(compileRegex('[(?=]+').test('(?='), true);
    assert.equal(compileRegex('\\Q(?=\\1\\E').test('(?=\\1'), true);
  });
  it('rejects what RE2 rejects, with a reason and offset', () => {
    rejects('(?>a)', /Perl syntax/);
    rejects('a**', /nested repetition/);
    rejects('a*+', /nested repetition/);
    rejects('a{1001}', /repeat count/);
    rejects('a{3,2}', /repeat count/);
    rejects('*a', /missing argument/);
    rejects('[z-a]', /range/);
    rejects('\\u0041', /escape/);
    rejects('(a', /missing closing \)/);
    rejects('a)', /unexpected \)/);
    rejects('a)|(b', /unexpected \)/);
    rejects('x'.repeat(3000), /longer than/);
    rejects('(((a{1000}){1000}){1000})', /repeat count/);
    rejects('(?:abcdefghij){1000}', /too large/);
    assert.equal(compileRegex('(?:abcdefghi){1000}').test('abcdefghi'.repeat(1000)), true);
    assert.throws(
      () => compileRegex('ab(?=c)'),
      (e) => isVellumError(e) && /offset 2/.test(e.message),
    );
    assert.throws(
      () => compileRegex('abc\\8'),
      (e) => isVellumError(e) && /offset 3/.test(e.message),
    );
  });

  it('accepts RE2 syntax beyond a minimal subset', () => {
    const cases: Array<[string, string, boolean]> = [
      ['(?P<org>[a-z]+)/(?<repo>[a-z]+)', 'org/repo', true],
      ['\\pL+', 'Zürich', true],
      ['\\pL+', 'a1', false],
      ['\\p{Greek}+', 'αβγ', true],
      ['\\p{Greek}+', 'abc', false],
      ['\\PL', '1', true],
      ['[[:alpha:]]+', 'abc', true],
      ['[[:digit:]]{3}', '123', true],
      ['(?i)GitHub', 'github', true],
      ['(?i:a)b', 'Ab', true],
      ['(?i:a)b', 'AB', false],
      ['(?s:.)', '\n', true],
      ['a{0,1000}', 'a'.repeat(1000), true],
      ['a{0,1000}', 'a'.repeat(1001), false],
      ['a{,2}', 'a{,2}', true],
      ['\\Qa.b\\E', 'a.b', true],
      ['\\Qa.b\\E', 'axb', false],
      ['\\Aab\\z', 'ab', true],
      ['\\x{1F600}', '😀', true],
      ['\\101', 'A', true],
    ];
    for (const [re, s, want] of cases)
      assert.equal(compileRegex(re).test(s), want, `${re} on ${JSON.stringify(s)}`);
  });

  it('matches in linear time where a backtracking engine explodes', () => {
    const input = 'a'.repeat(1000) + 'c';
    const t0 = process.hrtime.bigint();
    for (const re of ['(a+)+b', '(a|a)*b', '(a*)*b', '(a|aa)+b', '(.*a){20}b']) {
      assert.equal(compileRegex(re).test(input), false, re);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms < 2000, `took ${ms} ms`);
  });

  it('agrees with JavaScript RegExp (anchored) on generated patterns', () => {
    const atom = fc.constantFrom('a', 'b', '.', '\\d', '[ab]', '[^a]', '[a-c1]', '\\w', '\\.');
    const pattern: fc.Arbitrary<string> = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        atom,
        fc.tuple(tie('node'), tie('node')).map(([x, y]) => `${x}${y}`),
        fc.tuple(tie('node'), tie('node')).map(([x, y]) => `(?:${x}|${y})`),
        fc
          .tuple(tie('node'), fc.constantFrom('*', '+', '?', '{0,2}', '{2}', '{1,}', '*?'))
          .map(([x, q]) => `(?:${x})${q}`),
      ),
    })).node as fc.Arbitrary<string>;
    const input = fc
      .array(fc.constantFrom('a', 'b', 'c', '1', '.', '\n', '_'), { maxLength: 8 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(pattern, fc.array(input, { minLength: 1, maxLength: 5 }), (p, inputs) => {
        const mine = compileRegex(p);
        const js = new RegExp(`^(?:${p})$`, 'u');
        for (const s of inputs) if (mine.test(s) !== js.test(s)) return false;
        return true;
      }),
      { numRuns: 300 },
    );
  });
  it('is whole-string: p matches s iff re2js ^(?:p)$ finds a match in s', () => {
    const atom = fc.constantFrom(
      'a',
      'b',
      '.',
      '\\pL',
      '[ab]',
      '[^a]',
      '\\d',
      '^',
      '$',
      '\\b',
      '(?i:A)',
      '(?s:.)',
    );
    const pattern: fc.Arbitrary<string> = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        atom,
        fc.tuple(tie('node'), tie('node')).map(([x, y]) => `${x}${y}`),
        fc.tuple(tie('node'), tie('node')).map(([x, y]) => `${x}|${y}`),
        fc.tuple(tie('node'), tie('node')).map(([x, y]) => `(${x}|${y})`),
        fc
          .tuple(tie('node'), fc.constantFrom('*', '+', '?', '{0,2}', '{2}', '{1,}', '*?'))
          .map(([x, q]) => `(?:${x})${q}`),
      ),
    })).node as fc.Arbitrary<string>;
    const input = fc
      .array(fc.constantFrom('a', 'b', 'A', 'é', '1', ' ', '\n'), { maxLength: 8 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(pattern, fc.array(input, { minLength: 1, maxLength: 5 }), (p, inputs) => {
        const mine = compileRegex(p);
        const reference = RE2JS.compile(`^(?:${p})$`);
        for (const s of inputs) if (mine.test(s) !== reference.matcher(s).find()) return false;
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('compileGlob', () => {
  it('* and ? are full-match wildcards, everything else literal', () => {
    const g = compileGlob('https://github.com/org/*');
    assert.equal(g.test('https://github.com/org/repo/.github/workflows/x.yml@refs/heads/main'), true);
    assert.equal(g.test('https://github.com/org2/repo'), false);
    assert.equal(g.test('xhttps://github.com/org/repo'), false);
    assert.equal(compileGlob('v?.?').test('v1.2'), true);
    assert.equal(compileGlob('v?.?').test('v1x2'), false); // '.' is literal
    assert.equal(compileGlob('a\\*').test('a*'), true);
    assert.equal(compileGlob('a\\*').test('ab'), false);
    assert.equal(compileGlob('*').test(''), true);
    assert.equal(compileGlob('a*a*a*a*a*b').test('a'.repeat(2000)), false);
  });
});

describe('unescapedHostDots', () => {
  it('flags host-like dots only', () => {
    assert.deepEqual(unescapedHostDots('https://github.com/org/.*'), [14]);
    assert.deepEqual(unescapedHostDots('https://github\\.com/org/.*'), []);
    assert.deepEqual(unescapedHostDots('[a.b]'), []);
  });
});
