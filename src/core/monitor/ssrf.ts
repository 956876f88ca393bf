/**
 * SSRF guard for webhook destinations (docs/monitoring.md, "SSRF policy"). The caller resolves the host name
 * (pinning the connection to the checked addresses) and asks whether any address is internal.
 * Fail closed: unparsable addresses, unresolved names and non-HTTP(S) URLs are forbidden.
 */
import { formatIpv4, parseIp } from '../x509';

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'unique-local'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'documentation'
  | 'reserved'
  | 'invalid';

/** Classes a deployment may opt into with `allowPrivate` (local receivers in development). */
const PRIVATE_OPT_IN: ReadonlySet<AddressClass> = new Set(['loopback', 'private', 'shared', 'unique-local']);

const METADATA_V4 = new Set([
  '169.254.169.254',
  '169.254.170.2',
  '169.254.169.253',
  '169.254.169.123',
  '100.100.100.200',
  '192.0.0.192',
]);
const METADATA_V6 = ['fd00:ec2::254', 'fd00:ec2::253', 'fd20:ce::254'];
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

type V4Rule = readonly [number, number, AddressClass]; // network (uint32), prefix length, class
const ip4 = (s: string): number => {
  const b = parseIp(s)!;
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
};
const V4_RULES: readonly V4Rule[] = [
  [ip4('0.0.0.0'), 32, 'unspecified'],
  [ip4('0.0.0.0'), 8, 'reserved'],
  [ip4('10.0.0.0'), 8, 'private'],
  [ip4('100.64.0.0'), 10, 'shared'],
  [ip4('127.0.0.0'), 8, 'loopback'],
  [ip4('169.254.0.0'), 16, 'link-local'],
  [ip4('172.16.0.0'), 12, 'private'],
  [ip4('192.0.0.0'), 24, 'reserved'],
  [ip4('192.0.2.0'), 24, 'documentation'],
  [ip4('192.88.99.0'), 24, 'reserved'],
  [ip4('192.168.0.0'), 16, 'private'],
  [ip4('198.18.0.0'), 15, 'reserved'],
  [ip4('198.51.100.0'), 24, 'documentation'],
  [ip4('203.0.113.0'), 24, 'documentation'],
  [ip4('224.0.0.0'), 4, 'multicast'],
  [ip4('240.0.0.0'), 4, 'reserved'],
];

function classifyV4(b: Uint8Array): AddressClass {
  if (METADATA_V4.has(formatIpv4(b))) return 'metadata';
  const n = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  for (const [net, len, cls] of V4_RULES) {
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    if ((n & mask) >>> 0 === net) return cls;
  }
  return 'public';
}

function prefixEq(b: Uint8Array, prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const bit = 7 - (i & 7);
    if (((b[byte]! >> bit) & 1) !== ((prefix[byte]! >> bit) & 1)) return false;
  }
  return true;
}

const bytes6 = (s: string): number[] => [...parseIp(s)!];
const V6_RULES: ReadonlyArray<readonly [number[], number, AddressClass | 'embedded-v4' | 'embedded-6to4']> = [
  [bytes6('::'), 128, 'unspecified'],
  [bytes6('::1'), 128, 'loopback'],
  [bytes6('::ffff:0:0'), 96, 'embedded-v4'], // IPv4-mapped
  [bytes6('::'), 96, 'embedded-v4'], // IPv4-compatible (deprecated)
  [bytes6('64:ff9b::'), 96, 'embedded-v4'], // NAT64 well-known prefix
  [bytes6('64:ff9b:1::'), 48, 'private'], // local-use NAT64
  [bytes6('100::'), 64, 'reserved'], // discard-only
  [bytes6('2001::'), 32, 'reserved'], // Teredo
  [bytes6('2001:db8::'), 32, 'documentation'],
  [bytes6('2001:10::'), 28, 'reserved'],
  [bytes6('2001:20::'), 28, 'reserved'],
  [bytes6('2002::'), 16, 'embedded-6to4'],
  [bytes6('3fff::'), 20, 'documentation'],
  [bytes6('fc00::'), 7, 'unique-local'],
  [bytes6('fe80::'), 10, 'link-local'],
  [bytes6('fec0::'), 10, 'reserved'], // site-local (deprecated)
  [bytes6('ff00::'), 8, 'multicast'],
];
const METADATA_V6_BYTES = METADATA_V6.map((s) => Buffer.from(parseIp(s)!));

function classifyV6(b: Uint8Array): AddressClass {
  if (METADATA_V6_BYTES.some((m) => m.equals(b))) return 'metadata';
  for (const [prefix, bits, cls] of V6_RULES) {
    if (!prefixEq(b, prefix, bits)) continue;
    if (cls === 'embedded-v4') return classifyV4(b.subarray(12, 16));
    if (cls === 'embedded-6to4') return classifyV4(b.subarray(2, 6));
    return cls;
  }
  // Only 2000::/3 is global unicast.
  return (b[0]! & 0xe0) === 0x20 ? 'public' : 'reserved';
}

/** Classifies one IP address (IPv4, IPv6, IPv4-mapped/compatible/NAT64/6to4 by their embedded IPv4). */
export function classifyAddress(address: string): AddressClass {
  const b = typeof address === 'string' ? parseIp(address.trim()) : undefined;
  if (!b) return 'invalid';
  return b.length === 4 ? classifyV4(b) : classifyV6(b);
}

export interface DestinationCheck {
  readonly forbidden: boolean;
  readonly reason?: string;
}

/**
 * Decides whether a webhook may be delivered to `url` given the addresses its host resolved to
 * (every one is checked; the caller must connect only to these). With `allowPrivate`, loopback,
 * RFC 1918, CGNAT and ULA destinations are allowed; metadata, link-local, multicast, unspecified,
 * documentation and reserved ones never are.
 */
export function checkDestination(
  url: string,
  resolvedAddresses: readonly string[],
  allowPrivate: boolean,
): DestinationCheck {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { forbidden: true, reason: 'not a valid URL' };
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    return { forbidden: true, reason: `scheme ${u.protocol} is not allowed` };
  let host = u.hostname.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') return { forbidden: true, reason: 'no host' };
  const addresses: string[] = [...resolvedAddresses];
  const literal = host.startsWith('[') ? host.slice(1, -1) : parseIp(host) ? host : undefined;
  if (literal !== undefined) {
    addresses.push(literal);
  } else {
    if (METADATA_NAMES.has(host))
      return { forbidden: true, reason: `host ${host} is a cloud metadata service` };
    if (!allowPrivate && (host === 'localhost' || host.endsWith('.localhost'))) {
      return { forbidden: true, reason: `host ${host} is loopback` };
    }
    if (
      !allowPrivate &&
      (host.endsWith('.internal') || host.endsWith('.local') || host.endsWith('.home.arpa'))
    ) {
      return { forbidden: true, reason: `host ${host} is an internal name` };
    }
    if (resolvedAddresses.length === 0) return { forbidden: true, reason: `host ${host} did not resolve` };
  }
  for (const a of addresses) {
    const cls = classifyAddress(a);
    if (cls === 'public') continue;
    if (allowPrivate && PRIVATE_OPT_IN.has(cls)) continue;
    return { forbidden: true, reason: `address ${a} is ${cls}` };
  }
  return { forbidden: false };
}

export function isForbiddenDestination(
  url: string,
  resolvedAddresses: readonly string[],
  allowPrivate: boolean,
): boolean {
  return checkDestination(url, resolvedAddresses, allowPrivate).forbidden;
}
