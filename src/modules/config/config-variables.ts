import { z } from 'zod';

/**
 * Building blocks of the configuration schema: one environment variable each, parsed from its
 * raw text and registered with its README text (what it means, what the default is).
 */
export interface VariableDoc {
  /** Which README table the variable belongs to. */
  readonly section: 'server' | 'monitor';
  /** The default as a reader should see it (Markdown). */
  readonly default: string;
  readonly description: string;
}

export const variableDocs = z.registry<VariableDoc>();

type Raw = string | undefined;

/** A variable's value is its raw text; unset and empty both mean "use the default". */
export function variable<T>(
  doc: VariableDoc,
  parse: (raw: string, fail: (message: string) => never) => T,
  def: () => T,
) {
  return z
    .string()
    .optional()
    .transform((raw: Raw, ctx): T => {
      if (raw === undefined || raw === '') return def();
      try {
        return parse(raw, (message) => {
          throw new InvalidValue(message);
        });
      } catch (e) {
        if (!(e instanceof InvalidValue)) throw e;
        ctx.addIssue({ code: 'custom', message: e.message });
        return z.NEVER;
      }
    })
    .register(variableDocs, doc);
}

class InvalidValue extends Error {}

export function int(doc: VariableDoc, def: number | (() => number), min: number, max: number) {
  return variable(
    doc,
    (raw, fail) => {
      if (!/^[0-9]+$/.test(raw.trim())) fail(`must be a whole number, got ${JSON.stringify(raw)}`);
      const v = Number(raw.trim());
      if (!Number.isSafeInteger(v) || v < min || v > max)
        fail(`must be between ${min} and ${max}, got ${raw}`);
      return v;
    },
    typeof def === 'function' ? def : () => def,
  );
}

export function oneOf<const T extends readonly string[]>(doc: VariableDoc, def: T[number], allowed: T) {
  return variable(
    doc,
    (raw, fail): T[number] => {
      if (!allowed.includes(raw)) fail(`must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    },
    () => def,
  );
}

export function bool(doc: VariableDoc, def: boolean) {
  return variable(
    doc,
    (raw, fail) => {
      const v = raw.trim().toLowerCase();
      if (v === 'true' || v === '1' || v === 'yes') return true;
      if (v === 'false' || v === '0' || v === 'no') return false;
      return fail(`must be true or false, got ${JSON.stringify(raw)}`);
    },
    () => def,
  );
}

export function text(doc: VariableDoc, check?: (raw: string, fail: (message: string) => never) => void) {
  return textOr(doc, undefined, check);
}

/** Text with a constant default, so the default lives here beside its README text. */
export function textOr<D extends string | undefined>(
  doc: VariableDoc,
  def: D,
  check?: (raw: string, fail: (message: string) => never) => void,
) {
  return variable<string | D>(
    doc,
    (raw, fail) => {
      check?.(raw, fail);
      return raw;
    },
    () => def,
  );
}
