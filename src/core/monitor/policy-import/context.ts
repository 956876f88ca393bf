/** The state an importer carries through one policy document: where it is, and what it found. */
import { ImportFile, ImportResult, ImportedItem, pemFingerprints } from './types';

export interface Ctx {
  readonly file: ImportFile;
  readonly out: ImportResult;
  readonly policy: string | undefined;
  rule: string | undefined;
}

export function refuse(ctx: Ctx, path: string, construct: string, message: string): void {
  ctx.out.refusals.push({
    file: ctx.file.name,
    path,
    construct,
    message: `${construct}: ${message} (${ctx.file.name} ${path})`,
  });
}

export function emit(ctx: Ctx, path: string, item: ImportedItem): void {
  ctx.out.identities.push({
    item,
    origin: {
      file: ctx.file.name,
      ...(ctx.policy ? { policy: ctx.policy } : {}),
      ...(ctx.rule ? { rule: ctx.rule } : {}),
      path,
    },
  });
}

/** One `fingerprint` item per key or certificate in a PEM text. */
export function emitPem(ctx: Ctx, pem: string, path: string): void {
  const r = pemFingerprints(pem);
  if (r.error) {
    refuse(ctx, path, 'PEM', r.error);
    return;
  }
  for (const fp of r.fingerprints) emit(ctx, path, { fingerprint: fp });
}
