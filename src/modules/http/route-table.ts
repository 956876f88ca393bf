/**
 * Every route Fastify registered, so an unmatched request can be told apart as "no such path"
 * (404) or "path exists, wrong method" (405 + Allow), as Rekor's router does. Fed by Fastify's
 * onRoute hook; patterns use find-my-way syntax (`:param`, trailing `*`).
 */
export class RouteTable {
  private readonly routes: { re: RegExp; methods: Set<string> }[] = [];
  private readonly byPattern = new Map<string, { re: RegExp; methods: Set<string> }>();

  add(url: string, methods: string | readonly string[]): void {
    const list = typeof methods === 'string' ? [methods] : methods;
    let r = this.byPattern.get(url);
    if (!r) {
      r = { re: patternToRegExp(url), methods: new Set() };
      this.byPattern.set(url, r);
      this.routes.push(r);
    }
    for (const m of list) r.methods.add(m.toUpperCase());
  }

  /** Methods allowed on this concrete path (query stripped); empty when nothing matches it. */
  allowedMethods(path: string): string[] {
    const p = path.split('?', 1)[0].replace(/(.)\/$/, '$1');
    const out = new Set<string>();
    for (const r of this.routes) if (r.re.test(p)) for (const m of r.methods) out.add(m);
    // HEAD comes free with GET in Fastify, and Allow should say so.
    if (out.has('GET')) out.add('HEAD');
    return [...out].sort();
  }
}

function patternToRegExp(url: string): RegExp {
  const trimmed = url.length > 1 ? url.replace(/\/$/, '') : url;
  const src = trimmed
    .split('/')
    .map((seg) => {
      if (seg === '*') return '.*';
      if (seg.startsWith(':')) return '[^/]+';
      return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${src}$`);
}
