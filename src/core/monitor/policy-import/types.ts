/**
 * What the admission-policy importers produce: the identities a source accepts, as Vellum matcher
 * items, each with where it came from; and the constructs they refused to translate.
 */
import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';

export const IMPORT_SOURCES = ['kyverno', 'policy-controller', 'cosign', 'rekor-monitor'] as const;
export type ImportSource = (typeof IMPORT_SOURCES)[number];

export interface ImportOrigin {
  readonly file: string;
  /** The policy's metadata.name (Kyverno, policy-controller). */
  readonly policy?: string;
  /** The rule or authority name inside the policy, or the script line. */
  readonly rule?: string;
  /** Where in the file: a YAML path, or `line N`. */
  readonly path: string;
}

/** A matcher item in rule-YAML syntax (`issuer`, `subjectRegExp`, `subject: {glob: …}`, `fingerprint`). */
export type ImportedItem = Record<string, string | Record<string, string>>;

export interface ImportedIdentity {
  readonly item: ImportedItem;
  readonly origin: ImportOrigin;
}

/** A source construct with no faithful Vellum equivalent: the import stops rather than guess. */
export interface ImportRefusal {
  readonly file: string;
  readonly path: string;
  /** The construct's name as the source tool spells it, e.g. `conditions`, `static: pass`. */
  readonly construct: string;
  readonly message: string;
}

export interface ImportResult {
  readonly identities: ImportedIdentity[];
  readonly refusals: ImportRefusal[];
  /** Accepted but worth knowing (e.g. a policy with no image-verification rule). */
  readonly warnings: string[];
}

export interface ImportFile {
  readonly name: string;
  readonly text: string;
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** YAML documents of a file as plain values (failsafe schema: every scalar a string). */
export function yamlDocuments(file: ImportFile, out: ImportResult): Array<{ value: unknown; index: number }> {
  const docs = parseAllDocuments(file.text, { schema: 'failsafe', prettyErrors: true });
  const res: Array<{ value: unknown; index: number }> = [];
  (Array.isArray(docs) ? docs : []).forEach((doc, index) => {
    if (doc.errors.length > 0) {
      out.refusals.push({
        file: file.name,
        path: `document[${index}]`,
        construct: 'YAML',
        message: doc.errors[0]!.message.split('\n')[0]!,
      });
      return;
    }
    if (doc.contents === null) return;
    res.push({ value: doc.toJS({ maxAliasCount: 100 }), index });
  });
  return res;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/**
 * `sha256:<hex>` fingerprints of the PUBLIC KEY (SPKI) and CERTIFICATE blocks of a PEM text:
 * what a Vellum `fingerprint` condition matches (the SHA-256 of the key's SPKI DER or of the
 * certificate's DER). Other block types yield an error message.
 */
export function pemFingerprints(pem: string): { fingerprints: string[]; error?: string } {
  const fingerprints: string[] = [];
  for (const m of pem.matchAll(PEM_RE)) {
    const type = m[1]!;
    if (type !== 'PUBLIC KEY' && type !== 'CERTIFICATE') {
      return { fingerprints, error: `PEM block '${type}' is not a PUBLIC KEY or CERTIFICATE` };
    }
    const der = Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64');
    if (der.length === 0 || der[0] !== 0x30) return { fingerprints, error: `PEM block '${type}' is not DER` };
    fingerprints.push(`sha256:${createHash('sha256').update(der).digest('hex')}`);
  }
  if (fingerprints.length === 0) return { fingerprints, error: 'no PEM PUBLIC KEY or CERTIFICATE block' };
  return { fingerprints };
}
