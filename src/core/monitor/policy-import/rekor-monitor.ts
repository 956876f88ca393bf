/**
 * sigstore/rekor-monitor identity configuration (`monitoredValues`): the identities it watches.
 *
 * rekor-monitor reports every entry that matches (it has no allowlist), so these become the
 * `scope` of a rule without `expect`: Vellum's "any match alerts" mode. Semantics carried over
 * (`pkg/identity/identity.go`): `certSubject` and `issuers` are Go `regexp.MatchString`,
 * unanchored, over every SAN and over the issuer (`.1.8`, else `.1.1`); an empty `issuers` list
 * means any issuer, but a certificate with no issuer never matches; `fingerprints` are exact hex
 * SHA-256; `oidMatchers.fulcioExtensions` values are exact.
 */
import { Ctx, emit, refuse } from './context';
import { unanchoredToFullMatch, SourcePatternError } from './source-regex';
import { ImportFile, ImportResult, isMap, list, str, yamlDocuments } from './types';

/** Any issuer, but there must be one (rekor-monitor skips certificates without an issuer). */
const SOME_ISSUER = '(?s:.*)';

export function importRekorMonitor(file: ImportFile, out: ImportResult): void {
  for (const { value: doc, index } of yamlDocuments(file, out)) {
    if (!isMap(doc)) continue;
    const docPath = `document[${index}]`;
    const mv = isMap(doc.monitoredValues) ? doc.monitoredValues : doc;
    const base = mv === doc ? docPath : `${docPath}.monitoredValues`;
    const ctx: Ctx = { file, out, policy: undefined, rule: undefined };
    const re = (src: string, path: string, what: string): string | undefined => {
      try {
        return unanchoredToFullMatch(src);
      } catch (e) {
        if (!(e instanceof SourcePatternError)) throw e;
        refuse(ctx, path, what, e.message);
        return undefined;
      }
    };
    list(mv.certIdentities).forEach((ci, i) => {
      const path = `${base}.certIdentities[${i}]`;
      const subject = isMap(ci) ? str(ci.certSubject) : undefined;
      if (!isMap(ci) || !subject) {
        refuse(ctx, path, 'certIdentities without certSubject', 'an identity needs a certSubject');
        return;
      }
      ctx.rule = `certIdentities[${i}]`;
      const subjectRe = re(subject, `${path}.certSubject`, 'certSubject');
      if (subjectRe === undefined) return;
      const issuers = list(ci.issuers)
        .map(str)
        .filter((s): s is string => s !== undefined);
      if (issuers.length === 0) {
        emit(ctx, path, { subjectRegExp: subjectRe, issuerRegExp: SOME_ISSUER });
        return;
      }
      issuers.forEach((iss, j) => {
        const issuerRe = re(iss, `${path}.issuers[${j}]`, 'issuers');
        if (issuerRe !== undefined)
          emit(ctx, `${path}.issuers[${j}]`, { subjectRegExp: subjectRe, issuerRegExp: issuerRe });
      });
    });
    list(mv.fingerprints).forEach((fp, i) => {
      const path = `${base}.fingerprints[${i}]`;
      const s = str(fp) ?? '';
      ctx.rule = `fingerprints[${i}]`;
      if (!/^[0-9a-fA-F]{64}$/.test(s)) {
        refuse(
          ctx,
          path,
          'fingerprints',
          `${JSON.stringify(s)} is not a hex SHA-256 (PGP SHA-1 and SSH base64 fingerprints have no Vellum equivalent)`,
        );
        return;
      }
      emit(ctx, path, { fingerprint: `sha256:${s.toLowerCase()}` });
    });
    if (list(mv.subjects).length > 0) {
      refuse(
        ctx,
        `${base}.subjects`,
        'subjects',
        'PGP and SSH key subjects are not identities Vellum extracts',
      );
    }
    const oid = mv.oidMatchers;
    if (isMap(oid)) {
      for (const k of ['oidExtensions', 'customExtensions'] as const) {
        if (oid[k] !== undefined)
          refuse(
            ctx,
            `${base}.oidMatchers.${k}`,
            `oidMatchers.${k}`,
            'matches raw extension bytes "DER string first"; Vellum decodes each Fulcio OID one way only, so name the extension under fulcioExtensions instead',
          );
      }
      const fe = oid.fulcioExtensions;
      if (isMap(fe)) {
        for (const [name, values] of Object.entries(fe)) {
          const vs = list(values)
            .map(str)
            .filter((s): s is string => s !== undefined);
          ctx.rule = `oidMatchers.fulcioExtensions.${name}`;
          for (const v of vs)
            emit(ctx, `${base}.oidMatchers.fulcioExtensions.${name}`, { extensions: { [name]: v } });
        }
      }
    }
  }
}
