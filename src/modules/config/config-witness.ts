import { parseVerifierKey } from '../../core/note';
import { NOTE_KEY_TYPE } from '../../core/note';
import { isVellumError } from '../../core/errors';
import { text, variable } from './config-variables';

const server = 'server';

/** One configured log a witness cosigns for. */
export interface WitnessedLogConfig {
  readonly origin: string;
  readonly vkey: string;
}

/** Entries are separated by ";" or newlines; blank entries are skipped. */
function entries(raw: string): string[][] {
  return raw
    .split(/[;\n]/)
    .map((e) => e.trim())
    .filter((e) => e !== '')
    .map((e) => e.split(/\s+/));
}

function checkVkey(vkey: string, fail: (m: string) => never, types: readonly number[]): void {
  try {
    const k = parseVerifierKey(vkey);
    if (!types.includes(k.type)) fail(`vkey ${k.name} has key type 0x${k.type.toString(16)}`);
  } catch (e) {
    if (!isVellumError(e)) throw e;
    fail(`bad vkey ${JSON.stringify(vkey)}: ${e.message}`);
  }
}

/** ROLE=witness: Vellum cosigning other logs' checkpoints (C2SP tlog-witness, docs/witness.md). */
export const witnessVariables = {
  WITNESS_NAME: text({
    section: server,
    default: '`LOG_HOSTNAME`',
    description:
      '`ROLE=witness`: the key name on its cosignature lines (a C2SP key name, e.g. `witness.example.com`)',
  }),
  WITNESS_KEY_PATH: text({
    section: server,
    default: '`DATA_DIR/witness-key.pem`, Ed25519, generated if absent',
    description:
      '`ROLE=witness`: the Ed25519 cosigning key (PKCS#8 PEM); when set explicitly the file must exist',
  }),
  WITNESS_LOGS: variable<WitnessedLogConfig[]>(
    {
      section: server,
      default: 'none',
      description:
        '`ROLE=witness`: the logs to cosign, `<vkey> [<origin>]` separated by `;` or newlines (origin defaults to the vkey name; Vellum logs: `<LOG_HOSTNAME> - <treeID>`)',
    },
    (raw, fail) => {
      const seen = new Set<string>();
      return entries(raw).map(([vkey, ...origin]) => {
        checkVkey(vkey!, fail, [NOTE_KEY_TYPE.ed25519, NOTE_KEY_TYPE.ecdsa]);
        const o = origin.length > 0 ? origin.join(' ') : vkey!.slice(0, vkey!.indexOf('+'));
        if (seen.has(o)) fail(`origin ${JSON.stringify(o)} is listed twice`);
        seen.add(o);
        return { origin: o, vkey: vkey! };
      });
    },
    () => [],
  ),
};
