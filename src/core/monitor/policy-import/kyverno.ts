/**
 * Kyverno `ClusterPolicy` / `Policy` (kyverno.io/v1, v2beta1) `verifyImages` rules: the keyless,
 * key and certificate attestor entries each image rule accepts, as Vellum matcher items.
 *
 * Semantics carried over (Kyverno `api/kyverno/v1/image_verification_types.go` and its cosign
 * verifier): `keyless.subject` / `keyless.issuer` are Kyverno wildcards over the whole value
 * (exact when they hold no `*` or `?`); `subjectRegExp` / `issuerRegExp` go to cosign's identity
 * check, Go `regexp.MatchString`, unanchored. `rekor`, `ctlog`, `roots` and `count` say how to
 * verify, not who may sign, and are not needed to monitor.
 */
import {
  hasKyvernoWildcard,
  kyvernoWildcardToGlob,
  unanchoredToFullMatch,
  SourcePatternError,
} from './source-regex';
import { Ctx, emit, emitPem, refuse } from './context';
import { ImportFile, ImportResult, ImportedItem, isMap, list, str, yamlDocuments } from './types';

const POLICY_KINDS = ['ClusterPolicy', 'Policy'];

export function importKyverno(file: ImportFile, out: ImportResult): void {
  for (const { value: doc, index } of yamlDocuments(file, out)) {
    const docPath = `document[${index}]`;
    if (!isMap(doc)) continue;
    const apiVersion = str(doc.apiVersion) ?? '';
    const kind = str(doc.kind) ?? '';
    const policy = isMap(doc.metadata) ? str(doc.metadata.name) : undefined;
    if (apiVersion.startsWith('policies.kyverno.io/')) {
      out.refusals.push({
        file: file.name,
        path: docPath,
        construct: `CEL policy (${kind || 'policies.kyverno.io'})`,
        message: `${kind} ${policy ?? ''} in ${file.name} decides with CEL expressions, which have no faithful rule equivalent`,
      });
      continue;
    }
    if (!apiVersion.startsWith('kyverno.io/') || !POLICY_KINDS.includes(kind)) {
      out.warnings.push(
        `${file.name} ${docPath}: ${kind || 'document'} is not a Kyverno ClusterPolicy or Policy; skipped`,
      );
      continue;
    }
    const spec = isMap(doc.spec) ? doc.spec : {};
    let imageRules = 0;
    list(spec.rules).forEach((rule, r) => {
      if (!isMap(rule)) return;
      const rulePath = `${docPath}.spec.rules[${r}]`;
      const ruleName = str(rule.name);
      list(rule.verifyImages).forEach((vi, v) => {
        if (!isMap(vi)) return;
        imageRules++;
        const viPath = `${rulePath}.verifyImages[${v}]`;
        const ctx: Ctx = { file, out, policy, rule: ruleName };
        const type = str(vi.type) ?? 'Cosign';
        if (type !== 'Cosign') {
          refuse(
            ctx,
            `${viPath}.type`,
            `type: ${type}`,
            'not Sigstore signatures: they never reach a transparency log',
          );
          return;
        }
        attestorSets(vi.attestors, `${viPath}.attestors`, ctx);
        list(vi.attestations).forEach((att, a) => {
          if (!isMap(att)) return;
          const aPath = `${viPath}.attestations[${a}]`;
          if (att.conditions !== undefined) {
            refuse(
              ctx,
              `${aPath}.conditions`,
              'conditions',
              'Kyverno conditions test attestation contents, which a signing-identity rule cannot express',
            );
            return;
          }
          attestorSets(att.attestors, `${aPath}.attestors`, ctx);
        });
      });
    });
    if (imageRules === 0)
      out.warnings.push(`${file.name} ${docPath}: policy ${policy ?? ''} has no verifyImages rule`);
  }
}

function attestorSets(raw: unknown, path: string, ctx: Ctx): void {
  list(raw).forEach((set, s) => {
    if (!isMap(set)) return;
    list(set.entries).forEach((entry, e) => {
      if (!isMap(entry)) return;
      attestor(entry, `${path}[${s}].entries[${e}]`, ctx);
    });
  });
}

function attestor(entry: Record<string, unknown>, path: string, ctx: Ctx): void {
  if (entry.attestor !== undefined) {
    refuse(
      ctx,
      `${path}.attestor`,
      'attestor',
      'a nested attestor set (with its own count) has no faithful rule equivalent',
    );
    return;
  }
  if (isMap(entry.keyless)) keyless(entry.keyless, `${path}.keyless`, ctx);
  if (isMap(entry.keys)) keys(entry.keys, `${path}.keys`, ctx);
  if (isMap(entry.certificates)) {
    const c = entry.certificates;
    const cert = str(c.cert);
    if (!cert) {
      refuse(
        ctx,
        `${path}.certificates`,
        'certificates.certChain',
        'a certificate chain without a leaf accepts every certificate under it',
      );
      return;
    }
    emitPem(ctx, cert, `${path}.certificates.cert`);
  }
}

function keyless(k: Record<string, unknown>, path: string, ctx: Ctx): void {
  if (k.additionalExtensions !== undefined) {
    refuse(
      ctx,
      `${path}.additionalExtensions`,
      'additionalExtensions',
      'Kyverno additionalExtensions are matched with Kyverno rules Vellum does not reproduce',
    );
    return;
  }
  const item: ImportedItem = {};
  for (const field of ['subject', 'issuer'] as const) {
    const exact = str(k[field]);
    const re = str(k[`${field}RegExp`]);
    if (exact && re) {
      refuse(
        ctx,
        path,
        `${field} with ${field}RegExp`,
        `both ${field} and ${field}RegExp are set; Kyverno applies both checks in different places`,
      );
      return;
    }
    try {
      if (re) item[`${field}RegExp`] = unanchoredToFullMatch(re);
    } catch (e) {
      if (!(e instanceof SourcePatternError)) throw e;
      refuse(ctx, `${path}.${field}RegExp`, `${field}RegExp`, e.message);
      return;
    }
    if (exact) item[field] = hasKyvernoWildcard(exact) ? { glob: kyvernoWildcardToGlob(exact) } : exact;
  }
  if (Object.keys(item).length === 0) {
    refuse(
      ctx,
      path,
      'keyless without subject or issuer',
      'a keyless attestor without subject or issuer accepts every Fulcio identity',
    );
    return;
  }
  emit(ctx, path, item);
}

function keys(k: Record<string, unknown>, path: string, ctx: Ctx): void {
  for (const c of ['kms', 'secret'] as const) {
    if (k[c] !== undefined) {
      refuse(
        ctx,
        `${path}.${c}`,
        `keys.${c}`,
        `the key behind keys.${c} is not in the policy, so its fingerprint is unknown`,
      );
      return;
    }
  }
  const pem = str(k.publicKeys);
  if (!pem) {
    refuse(ctx, path, 'keys', 'keys without publicKeys');
    return;
  }
  if (/^k8s:\/\//.test(pem.trim())) {
    refuse(
      ctx,
      `${path}.publicKeys`,
      'keys.publicKeys: k8s://',
      'a key in a Kubernetes Secret is not in the policy, so its fingerprint is unknown',
    );
    return;
  }
  emitPem(ctx, pem, `${path}.publicKeys`);
}
