import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { writePathSvg } from '../../src/bench/svg-chart';

const points = [
  { offered: 2000, achieved: 1990, p50Ms: 8, p99Ms: 40 },
  { offered: 500, achieved: 500, p50Ms: 4, p99Ms: 12 },
  { offered: 4000, achieved: 2700, p50Ms: 900, p99Ms: 3000 },
];

/** Every element opened is closed, in order (a well-formed document for these tags). */
function assertBalanced(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue;
    if (m[1] === '/') assert.equal(stack.pop(), m[2]);
    else stack.push(m[2]!);
  }
  assert.deepEqual(stack, []);
}

describe('write-path SVG', () => {
  test('a well-formed document with one point per step and series, sorted by offered rate', () => {
    const svg = writePathSvg(points, 'Vellum <write> path', '2 CPUs & Node');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assertBalanced(svg);
    assert.ok(svg.includes('<title>Vellum &lt;write&gt; path</title>'), 'text is escaped');
    assert.ok(svg.includes('2 CPUs &amp; Node'));
    assert.equal([...svg.matchAll(/<circle /g)].length, 3 * points.length);
    const lines = [
      ...svg.matchAll(/<polyline fill="none" stroke="(#[0-9a-f]+)" stroke-width="2" points="([^"]+)"/g),
    ];
    assert.equal(lines.length, 3, 'achieved, p50, p99');
    const width = Number(/width="(\d+)"/.exec(svg)![1]);
    for (const [, , pts] of lines) {
      const xy = pts!.split(' ').map((p) => p.split(',').map(Number));
      assert.equal(xy.length, points.length);
      for (let i = 1; i < xy.length; i++)
        assert.ok(xy[i]![0]! > xy[i - 1]![0]!, 'x grows with the offered rate');
      for (const [x] of xy) assert.ok(x! > 0 && x! < width);
    }
    // p99 is drawn above p50 at every step (higher latency, smaller y).
    const y = (i: number) => lines[i]![2]!.split(' ').map((p) => Number(p.split(',')[1]));
    y(2).forEach((v, i) => assert.ok(v < y(1)[i]!));
  });

  test('a step that keeps up sits on the achieved = offered line; one that does not sits below it', () => {
    const svg = writePathSvg(points, 't', 's');
    const diag = /stroke="#999999" stroke-width="2" stroke-dasharray="4 4" points="([^ ]+) ([^"]+)"/.exec(
      svg,
    )!;
    const [[x0, y0], [x1, y1]] = [diag[1]!, diag[2]!].map((p) => p.split(',').map(Number)) as [
      number,
      number,
    ][];
    const achieved = /stroke="#1f6feb" stroke-width="2" points="([^"]+)"/
      .exec(svg)![1]!
      .split(' ')
      .map((p) => p.split(',').map(Number));
    const onDiag = (x: number) => y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
    assert.ok(Math.abs(achieved[0]![1]! - onDiag(achieved[0]![0]!)) < 0.2, '500 of 500 on the line');
    assert.ok(achieved[2]![1]! > onDiag(achieved[2]![0]!) + 10, '2700 of 4000 below it');
  });

  test('every point lies inside its panel, whatever the latency range', () => {
    const svg = writePathSvg(
      [
        { offered: 1500, achieved: 1479, p50Ms: 502, p99Ms: 3121 },
        { offered: 500, achieved: 500, p50Ms: 0.05, p99Ms: 60 },
      ],
      't',
      's',
    );
    const panels = [...svg.matchAll(/<rect x="\d+" y="(\d+)" width="\d+" height="(\d+)" fill="none"/g)].map(
      (m) => [Number(m[1]), Number(m[1]) + Number(m[2])],
    );
    assert.equal(panels.length, 2);
    for (const m of svg.matchAll(/<circle cx="[^"]+" cy="([^"]+)"/g)) {
      const cy = Number(m[1]);
      assert.ok(
        panels.some(([top, bottom]) => cy >= top! - 0.01 && cy <= bottom! + 0.01),
        `cy ${cy} outside both panels`,
      );
    }
  });

  test('no points is an error', () => {
    assert.throws(() => writePathSvg([], 't', 's'), /no points/);
  });
});
