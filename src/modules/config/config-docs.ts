import { envSchema, variableDocs, type VariableDoc } from './config-schema';

/**
 * The README's configuration tables, rendered from the schema. Each table sits between a pair of
 * HTML comment markers; everything outside them is left as written.
 */
export const TABLE_MARKERS: Readonly<Record<VariableDoc['section'], { start: string; end: string }>> = {
  server: { start: '<!-- config-table:start -->', end: '<!-- config-table:end -->' },
  monitor: { start: '<!-- monitor-config-table:start -->', end: '<!-- monitor-config-table:end -->' },
};

/** [variable, default, meaning] for every variable of a section, in schema order. */
export function configRows(section: VariableDoc['section']): string[][] {
  const rows: string[][] = [];
  for (const [name, schema] of Object.entries(envSchema.shape)) {
    const doc = variableDocs.get(schema);
    if (doc === undefined) throw new Error(`${name} has no documentation in the config schema`);
    if (doc.section === section) rows.push([`\`${name}\``, doc.default, doc.description]);
  }
  return rows;
}

/** A Markdown table padded the way prettier pads one, so `prettier --check` accepts it as is. */
export function renderTable(rows: string[][]): string {
  const all = [['variable', 'default', 'meaning'], ...rows];
  const widths = all[0].map((_, i) => Math.max(3, ...all.map((r) => [...r[i]].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join(' | ')} |`;
  return [line(all[0]), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `readme` with each marked table replaced by the schema's; throws if a marker is missing. */
export function rewriteConfigTables(readme: string): string {
  let out = readme;
  for (const [section, { start, end }] of Object.entries(TABLE_MARKERS)) {
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md lacks the ${start} ... ${end} markers`);
    const table = renderTable(configRows(section as VariableDoc['section']));
    out = `${out.slice(0, from + start.length)}\n\n${table}\n\n${out.slice(to)}`;
  }
  return out;
}
