/**
 * The write-path curve as a self-contained SVG (no script, no font or image fetched): achieved
 * rate against offered rate in the upper panel (with the line "achieved = offered"), and p50 /
 * p99 latency on a log scale in the lower one, both over the same offered-rate axis.
 */

export interface CurvePoint {
  readonly offered: number;
  readonly achieved: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const W = 720;
const PANEL_H = 220;
const LEFT = 70;
const RIGHT = 20;
const TOP = 80;
const GAP = 60;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2, 5 x 10^k ticks from 0 to at least `max`. */
function linearTicks(max: number): number[] {
  const raw = Math.max(1, max) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v <= max + step / 2; v += step) out.push(v);
  if (out[out.length - 1]! < max) out.push(out[out.length - 1]! + step);
  return out;
}

/** Powers of ten from at or below `min` to at or above `max` (at least two). */
function decadeTicks(min: number, max: number): number[] {
  const out = [10 ** Math.floor(Math.log10(min))];
  while (out[out.length - 1]! < max || out.length < 2) out.push(out[out.length - 1]! * 10);
  return out;
}

function polyline(points: [number, number][], color: string, dash = ''): string {
  const d = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const dots = points
    .map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${color}"/>`)
    .join('');
  return `<polyline fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${d}"/>${dash ? '' : dots}`;
}

/** An SVG document of `points` (sorted by offered rate here), titled `title` and `subtitle`. */
export function writePathSvg(points: readonly CurvePoint[], title: string, subtitle: string): string {
  if (points.length === 0) throw new Error('writePathSvg: no points');
  const pts = [...points].sort((a, b) => a.offered - b.offered);
  const plotW = W - LEFT - RIGHT;
  const xTicks = linearTicks(Math.max(...pts.map((p) => Math.max(p.offered, p.achieved))));
  const xMax = xTicks[xTicks.length - 1]!;
  const x = (v: number) => LEFT + (v / xMax) * plotW;
  const top0 = TOP;
  const top1 = TOP + PANEL_H + GAP;
  const yRate = (v: number) => top0 + PANEL_H - (v / xMax) * PANEL_H;
  const lat = pts.flatMap((p) => [p.p50Ms, p.p99Ms]).map((v) => Math.max(0.1, v));
  const lTicks = decadeTicks(Math.min(...lat), Math.max(...lat));
  const lMin = Math.log10(lTicks[0]!);
  const lMax = Math.log10(lTicks[lTicks.length - 1]!);
  const yLat = (v: number) =>
    top1 + PANEL_H - ((Math.log10(Math.max(0.1, v)) - lMin) / (lMax - lMin)) * PANEL_H;
  const parts: string[] = [];
  const text = (tx: number, ty: number, s: string, extra = '') =>
    parts.push(`<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}"${extra}>${esc(s)}</text>`);
  parts.push(`<rect width="${W}" height="${top1 + PANEL_H + 50}" fill="#ffffff"/>`);
  text(LEFT, 24, title, ' font-size="16" font-weight="bold"');
  text(LEFT, 44, subtitle, ' font-size="12" fill="#444444"');
  for (const [top, label] of [
    [top0, 'achieved entries/s'],
    [top1, 'latency ms (log)'],
  ] as const) {
    parts.push(
      `<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="none" stroke="#888888"/>`,
    );
    text(12, top - 8, label, ' font-size="12"');
  }
  for (const v of xTicks) {
    parts.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${top0}" y2="${top1 + PANEL_H}" stroke="#eeeeee"/>`);
    text(x(v), top1 + PANEL_H + 16, String(v), ' font-size="11" text-anchor="middle"');
    text(LEFT - 6, yRate(v) + 4, String(v), ' font-size="11" text-anchor="end"');
  }
  for (const v of lTicks) {
    parts.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${yLat(v)}" y2="${yLat(v)}" stroke="#eeeeee"/>`);
    text(LEFT - 6, yLat(v) + 4, String(v), ' font-size="11" text-anchor="end"');
  }
  text(LEFT + plotW / 2, top1 + PANEL_H + 36, 'offered entries/s', ' font-size="12" text-anchor="middle"');
  parts.push(
    polyline(
      [
        [x(0), yRate(0)],
        [x(xMax), yRate(xMax)],
      ],
      '#999999',
      '4 4',
    ),
  );
  parts.push(
    polyline(
      pts.map((p) => [x(p.offered), yRate(p.achieved)]),
      '#1f6feb',
    ),
  );
  parts.push(
    polyline(
      pts.map((p) => [x(p.offered), yLat(p.p50Ms)]),
      '#2da44e',
    ),
  );
  parts.push(
    polyline(
      pts.map((p) => [x(p.offered), yLat(p.p99Ms)]),
      '#cf222e',
    ),
  );
  text(LEFT + 10, top0 + 18, '— achieved  - - achieved = offered', ' font-size="12" fill="#1f6feb"');
  text(LEFT + 10, top1 + 18, '— p50', ' font-size="12" fill="#2da44e"');
  text(LEFT + 60, top1 + 18, '— p99', ' font-size="12" fill="#cf222e"');
  const h = top1 + PANEL_H + 50;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" role="img" aria-label="${esc(title)}">\n` +
    `<title>${esc(title)}</title>\n` +
    parts.join('\n') +
    '\n</svg>\n'
  );
}
