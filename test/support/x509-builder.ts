/**
 * A small DER encoder that builds real X.509 certificates for tests: self-signed or issued by a
 * test CA, ECDSA P-256 / SHA-256 via node:crypto, with chosen SANs (email, URI, DNS, IP,
 * OtherName) and extensions in any encoding, including deliberately malformed ones.
 * node:crypto's X509Certificate parses what this builds (checked in the tests).
 */
import { KeyObject, X509Certificate, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

// ---------------------------------------------------------------------------------------------
// DER primitives

export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer | Uint8Array): Buffer {
  const c = Buffer.from(content);
  return Buffer.concat([Buffer.from([tag]), derLength(c.length), c]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
export const octetString = (b: Buffer | Uint8Array): Buffer => tlv(0x04, b);
export const utf8String = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const ia5String = (tag: number, s: string | Buffer): Buffer =>
  tlv(tag, typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
export const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 + n, content);
export const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
export const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));

export function integer(v: number | Buffer): Buffer {
  let b =
    typeof v === 'number'
      ? Buffer.from(
          v
            .toString(16)
            .padStart(2, '0')
            .replace(/^(.(..)*)$/, '0$1'),
          'hex',
        )
      : Buffer.from(v);
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((x) => BigInt(x));
  const first = arcs[0]! * 40n + arcs[1]!;
  const out: number[] = [];
  for (const arc of [first, ...arcs.slice(2)]) {
    const bytes: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) bytes.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(d: Date): Buffer {
  const p = (n: number): string => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

export function name(cn?: string): Buffer {
  if (cn === undefined) return seq();
  return seq(set(seq(oid('2.5.4.3'), utf8String(cn))));
}

// ---------------------------------------------------------------------------------------------
// SANs and extensions

export const FULCIO = '1.3.6.1.4.1.57264.1';

export type SanSpec =
  | { email: string }
  | { uri: string }
  | { dns: string }
  | { ip: string | Buffer }
  | { otherName: string; oid?: string; valueDer?: Buffer }
  | { rawGeneralName: Buffer };

function ipBytes(ip: string): Buffer {
  if (ip.includes(':')) {
    const [head, tail] = ip.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const words = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return Buffer.from(words.flatMap((w) => [parseInt(w, 16) >> 8, parseInt(w, 16) & 0xff]));
  }
  return Buffer.from(ip.split('.').map(Number));
}

export function generalName(s: SanSpec): Buffer {
  if ('email' in s) return ia5String(0x81, s.email);
  if ('uri' in s) return ia5String(0x86, s.uri);
  if ('dns' in s) return ia5String(0x82, s.dns);
  if ('ip' in s) return tlv(0x87, typeof s.ip === 'string' ? ipBytes(s.ip) : s.ip);
  if ('otherName' in s) {
    const value = s.valueDer ?? utf8String(s.otherName);
    return tlv(0xa0, Buffer.concat([oid(s.oid ?? `${FULCIO}.7`), explicit(0, value)]));
  }
  return s.rawGeneralName;
}

export interface ExtSpec {
  readonly oid: string;
  /** The extnValue OCTET STRING's content. */
  readonly value: Buffer;
  readonly critical?: boolean;
}

export function sanExtension(sans: readonly SanSpec[], critical = true): ExtSpec {
  return { oid: '2.5.29.17', value: seq(...sans.map(generalName)), critical };
}

export type FulcioEncoding = 'auto' | 'raw' | 'utf8' | 'utf8-trailing' | 'wrong-tag' | 'invalid-utf8';

const NAMES: Record<string, number> = {
  'issuer-v1': 1,
  'github-workflow-trigger': 2,
  'github-workflow-sha': 3,
  'github-workflow-name': 4,
  'github-workflow-repository': 5,
  'github-workflow-ref': 6,
  'issuer-v2': 8,
  'build-signer-uri': 9,
  'build-signer-digest': 10,
  'runner-environment': 11,
  'source-repository-uri': 12,
  'source-repository-digest': 13,
  'source-repository-ref': 14,
  'source-repository-identifier': 15,
  'source-repository-owner-uri': 16,
  'source-repository-owner-identifier': 17,
  'build-config-uri': 18,
  'build-config-digest': 19,
  'build-trigger': 20,
  'run-invocation-uri': 21,
  'source-repository-visibility-at-signing': 22,
};

/**
 * A Fulcio extension by arc number or name. `auto`: raw bytes for .1–.6, DER UTF8String for .8+.
 * Malformed variants: `utf8-trailing` (UTF8String followed by an extra byte), `wrong-tag`
 * (PrintableString 0x13 instead of UTF8String), `invalid-utf8` (raw bytes that are not UTF-8).
 */
export function fulcioExt(
  arcOrName: number | string,
  value: string,
  encoding: FulcioEncoding = 'auto',
): ExtSpec {
  const arc = typeof arcOrName === 'number' ? arcOrName : NAMES[arcOrName];
  if (arc === undefined) throw new Error(`unknown Fulcio extension ${arcOrName}`);
  const enc = encoding === 'auto' ? (arc <= 6 ? 'raw' : 'utf8') : encoding;
  let v: Buffer;
  switch (enc) {
    case 'raw':
      v = Buffer.from(value, 'utf8');
      break;
    case 'utf8':
      v = utf8String(value);
      break;
    case 'utf8-trailing':
      v = Buffer.concat([utf8String(value), Buffer.from([0x00])]);
      break;
    case 'wrong-tag':
      v = tlv(0x13, Buffer.from(value, 'latin1'));
      break;
    case 'invalid-utf8':
      v = Buffer.concat([Buffer.from(value, 'utf8'), Buffer.from([0xc3, 0x28])]);
      break;
  }
  return { oid: `${FULCIO}.${arc}`, value: v };
}

/** Extensions for a typical GitHub Actions Fulcio certificate. */
export function githubFulcioExtensions(opts: {
  repo?: string;
  repoId?: string;
  workflowRef?: string;
  runnerEnvironment?: string;
  trigger?: string;
  runUri?: string;
  issuer?: string;
  sha?: string;
}): ExtSpec[] {
  const repo = opts.repo ?? 'org/repo';
  const ref = opts.workflowRef ?? '.github/workflows/release.yml@refs/tags/v1.2.3';
  const issuer = opts.issuer ?? 'https://token.actions.githubusercontent.com';
  const sha = opts.sha ?? 'a'.repeat(40);
  return [
    fulcioExt(1, issuer),
    fulcioExt(2, opts.trigger ?? 'push'),
    fulcioExt(3, sha),
    fulcioExt(5, repo),
    fulcioExt(8, issuer),
    fulcioExt(9, `https://github.com/${repo}/${ref}`),
    fulcioExt(11, opts.runnerEnvironment ?? 'github-hosted'),
    fulcioExt(12, `https://github.com/${repo}`),
    fulcioExt(13, sha),
    fulcioExt(15, opts.repoId ?? '123456'),
    fulcioExt(18, `https://github.com/${repo}/${ref}`),
    fulcioExt(20, opts.trigger ?? 'push'),
    fulcioExt(21, opts.runUri ?? `https://github.com/${repo}/actions/runs/1/attempts/1`),
  ];
}

// ---------------------------------------------------------------------------------------------
// Certificates

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function newKeyPair(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export interface BuiltCert {
  readonly der: Buffer;
  readonly pem: string;
  readonly keys: KeyPair;
  readonly spkiDer: Buffer;
  readonly subjectName: Buffer;
}

export interface CertSpec {
  /** Subject CN; omitted = empty subject (as Fulcio issues). */
  readonly subjectCN?: string;
  readonly sans?: readonly SanSpec[];
  readonly extensions?: readonly ExtSpec[];
  /** Signing CA; omitted = self-signed. */
  readonly issuer?: BuiltCert;
  readonly keys?: KeyPair;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly ca?: boolean;
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export function pem(type: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}

export function buildCertificate(spec: CertSpec = {}): BuiltCert {
  const keys = spec.keys ?? newKeyPair();
  const spkiDer = keys.publicKey.export({ type: 'spki', format: 'der' });
  const subjectName = name(spec.subjectCN);
  const issuerName = spec.issuer ? spec.issuer.subjectName : subjectName;
  const signer = spec.issuer ? spec.issuer.keys.privateKey : keys.privateKey;
  const exts: ExtSpec[] = [];
  if (spec.ca) exts.push({ oid: '2.5.29.19', value: seq(bool(true)), critical: true });
  if (spec.sans && spec.sans.length > 0) exts.push(sanExtension(spec.sans));
  exts.push(...(spec.extensions ?? []));
  const extDer = exts.map((e) => seq(oid(e.oid), ...(e.critical ? [bool(true)] : []), octetString(e.value)));
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const notBefore = spec.notBefore ?? new Date('2024-01-01T00:00:00Z');
  const notAfter = spec.notAfter ?? new Date('2034-01-01T00:00:00Z');
  const tbs = seq(
    explicit(0, integer(2)),
    integer(serial),
    ECDSA_SHA256,
    issuerName,
    seq(utcTime(notBefore), utcTime(notAfter)),
    subjectName,
    spkiDer,
    ...(extDer.length > 0 ? [explicit(3, seq(...extDer))] : []),
  );
  const sig = sign('sha256', tbs, signer);
  const der = seq(tbs, ECDSA_SHA256, bitString(sig));
  return { der, pem: pem('CERTIFICATE', der), keys, spkiDer, subjectName };
}

export function buildCa(cn = 'vellum test CA'): BuiltCert {
  return buildCertificate({ subjectCN: cn, ca: true });
}

/** Parses with node:crypto (OpenSSL); throws if OpenSSL rejects the certificate. */
export function parseWithNode(der: Buffer): X509Certificate {
  return new X509Certificate(der);
}

export function publicKeyPem(keys: KeyPair = newKeyPair()): string {
  return keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

// ---------------------------------------------------------------------------------------------
// Canonical entry bodies carrying verifiers (signatures are placeholders: identity extraction
// does not verify them).

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

export function hashedrekordBody(verifierPem: string, digestHex = 'ab'.repeat(32)): Record<string, unknown> {
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digestHex } },
      signature: { content: b64('sig'), publicKey: { content: b64(verifierPem) } },
    },
  };
}

export function dsseBody(
  verifierPems: readonly string[],
  payloadHashHex = 'cd'.repeat(32),
): Record<string, unknown> {
  return {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: 'ef'.repeat(32) },
      payloadHash: { algorithm: 'sha256', value: payloadHashHex },
      signatures: verifierPems.map((p, i) => ({ signature: b64(`sig${i}`), verifier: b64(p) })),
    },
  };
}

export function intotoBody(verifierPems: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: {
          payloadType: 'application/vnd.in-toto+json',
          signatures: verifierPems.map((p, i) => ({ sig: b64(b64(`sig${i}`)), publicKey: b64(p) })),
        },
        hash: { algorithm: 'sha256', value: '01'.repeat(32) },
        payloadHash: { algorithm: 'sha256', value: '02'.repeat(32) },
      },
    },
  };
}
