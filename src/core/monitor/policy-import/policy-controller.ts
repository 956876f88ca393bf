/**
 * sigstore/policy-controller `ClusterImagePolicy` (policy.sigstore.dev/v1alpha1, v1beta1): the
 * identities each authority accepts, as Vellum matcher items.
 *
 * Semantics carried over (`pkg/apis/policy/v1beta1/clusterimagepolicy_types.go`; the identities
 * become cosign CheckOpts identities): `issuer` / `subject` are exact (subject against every
 * SAN), `issuerRegExp` / `subjectRegExp` are Go `regexp.MatchString`, unanchored, and take
 * precedence over the exact value when both are set. `key.data` becomes a fingerprint.
 */
import { Ctx, emit, emitPem, refuse } from './context';
import { unanchoredToFullMatch, SourcePatternError } from './source-regex';
import { ImportFile, ImportResult, ImportedItem, isMap, list, str, yamlDocuments } from './types';

export function importPolicyController(file: ImportFile, out: ImportResult): void {
  for (const { value: doc, index } of yamlDocuments(file, out)) {
    const docPath = `document[${index}]`;
    if (!isMap(doc)) continue;
    const apiVersion = str(doc.apiVersion) ?? '';
    if (!apiVersion.startsWith('policy.sigstore.dev/') || doc.kind !== 'ClusterImagePolicy') {
      out.warnings.push(
        `${file.name} ${docPath}: ${str(doc.kind) ?? 'document'} is not a ClusterImagePolicy; skipped`,
      );
      continue;
    }
    const policy = isMap(doc.metadata) ? str(doc.metadata.name) : undefined;
    const ctx: Ctx = { file, out, policy, rule: undefined };
    const spec = isMap(doc.spec) ? doc.spec : {};
    if (spec.policy !== undefined) {
      // Narrows what the authorities accept with CUE or Rego over the signatures and attestations.
      refuse(
        ctx,
        `${docPath}.spec.policy`,
        'policy',
        'a CUE/Rego policy over the verified signatures has no faithful rule equivalent',
      );
      continue;
    }
    list(spec.authorities).forEach((auth, a) => {
      if (!isMap(auth)) return;
      const aPath = `${docPath}.spec.authorities[${a}]`;
      ctx.rule = str(auth.name) ?? `authority-${a}`;
      authority(auth, aPath, ctx);
    });
  }
}

function authority(auth: Record<string, unknown>, path: string, ctx: Ctx): void {
  if (isMap(auth.static)) {
    const action = str(auth.static.action) ?? '';
    refuse(
      ctx,
      `${path}.static`,
      `static: ${action}`,
      action === 'pass'
        ? 'admits images with no signature at all, so no signing identity is "the expected one"'
        : 'decides without looking at signatures',
    );
    return;
  }
  for (const att of list(auth.attestations)) {
    if (isMap(att) && att.policy !== undefined) {
      refuse(
        ctx,
        `${path}.attestations`,
        'attestations[].policy',
        'a CUE/Rego attestation policy has no faithful rule equivalent',
      );
      return;
    }
  }
  if (isMap(auth.key)) {
    const k = auth.key;
    if (k.kms !== undefined || k.secretRef !== undefined) {
      refuse(
        ctx,
        `${path}.key`,
        k.kms !== undefined ? 'key.kms' : 'key.secretRef',
        'the key is not in the policy, so its fingerprint is unknown',
      );
      return;
    }
    const pem = str(k.data);
    if (!pem) {
      refuse(ctx, `${path}.key`, 'key', 'key without data');
      return;
    }
    emitPem(ctx, pem, `${path}.key.data`);
    return;
  }
  if (isMap(auth.keyless)) {
    const kl = auth.keyless;
    const ids = list(kl.identities);
    if (ids.length === 0) {
      refuse(ctx, `${path}.keyless`, 'keyless without identities', 'accepts every identity the CA certifies');
      return;
    }
    ids.forEach((id, i) => {
      if (!isMap(id)) return;
      const iPath = `${path}.keyless.identities[${i}]`;
      const item: ImportedItem = {};
      for (const field of ['issuer', 'subject'] as const) {
        const re = str(id[`${field}RegExp`]);
        const exact = str(id[field]);
        if (re) {
          try {
            item[`${field}RegExp`] = unanchoredToFullMatch(re);
          } catch (e) {
            if (!(e instanceof SourcePatternError)) throw e;
            refuse(ctx, `${iPath}.${field}RegExp`, `${field}RegExp`, e.message);
            return;
          }
        } else if (exact) item[field] = exact;
      }
      if (Object.keys(item).length === 0) {
        refuse(ctx, iPath, 'identity without issuer or subject', 'accepts every identity the CA certifies');
        return;
      }
      emit(ctx, iPath, item);
    });
    return;
  }
  refuse(ctx, path, 'authority', 'an authority without key, keyless or static');
}
