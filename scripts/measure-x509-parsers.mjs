// Measures the certificate parsers Vellum could use for attacker input (docs/architecture.md,
// "Parsing attacker input"): parse time per certificate and accept/reject on a mutation corpus,
// for core/x509, OpenSSL (node:crypto X509Certificate) and, when installed, @peculiar/asn1-x509.
// Run after `npm run build:test`:  node scripts/measure-x509-parsers.mjs
// (PECULIAR_DIR=<dir with node_modules/@peculiar/asn1-x509> to include that library).
import { createRequire } from 'node:module';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const dist = join(process.cwd(), 'dist');
const x509 = require(join(dist, 'src/core/x509'));
const builder = require(join(dist, 'test/support/x509-builder'));
const { applyMutation } = require(join(dist, 'test/support/der-mutations'));

let peculiar;
try {
  const req = createRequire(join(process.env.PECULIAR_DIR ?? process.cwd(), 'package.json'));
  const schema = req('@peculiar/asn1-schema');
  const { Certificate } = req('@peculiar/asn1-x509');
  peculiar = (der) => schema.AsnConvert.parse(der, Certificate);
} catch {
  console.log('@peculiar/asn1-x509 not installed: measuring core/x509 and OpenSSL only');
}

const vec = require(join(dist, 'test/support/paths')).readVector('rekor-production.json');
const real = [];
for (const e of vec.entries) {
  const body = JSON.parse(Buffer.from(Object.values(e.logEntry)[0].body, 'base64').toString('utf8'));
  const b64 =
    e.kind === 'hashedrekord'
      ? body.spec.signature.publicKey.content
      : e.kind === 'dsse'
        ? body.spec.signatures[0].verifier
        : body.spec.content.envelope.signatures[0].publicKey;
  const pem = Buffer.from(b64, 'base64').toString('utf8');
  if (pem.includes('CERTIFICATE')) real.push(new X509Certificate(pem).raw);
}
const ca = builder.buildCa('measure');
const built = [0, 1, 2, 3].map(
  (i) =>
    builder.buildCertificate({
      issuer: ca,
      sans: [{ email: `a${i}@example.com` }, { ip: '10.0.0.1' }],
      extensions: builder.githubFulcioExtensions({}),
    }).der,
);
const seeds = [...real, ...built];

const parsers = {
  'core/x509 parseCertificate': (d) => x509.parseCertificate(d),
  'core/x509 + SANs + Fulcio extensions': (d) => {
    const c = x509.parseCertificate(d);
    const san = c.extensions.find((e) => e.oid === x509.OID_SAN);
    if (san) x509.parseGeneralNames(san.value);
    for (const e of c.extensions) {
      const f = x509.fulcioField(e.oid);
      if (f && f.encoding !== 'othername-san') x509.decodeFulcioExtension(f, e.value, 'x');
    }
  },
  'OpenSSL X509Certificate': (d) => new X509Certificate(d),
  ...(peculiar ? { '@peculiar/asn1-x509': peculiar } : {}),
};

function timePerCert(fn) {
  const N = 20000;
  for (let i = 0; i < 2000; i++) fn(real[i % real.length]);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(real[i % real.length]);
  return Number(process.hrtime.bigint() - t0) / N / 1000;
}

console.log(`parse time per real Fulcio certificate (${real.length} certificates, mean of 20,000 parses):`);
for (const [name, fn] of Object.entries(parsers)) console.log(`  ${name}: ${timePerCert(fn).toFixed(1)} us`);

// A deterministic corpus: every byte flipped three ways, every truncation, every length edit.
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
const corpus = [];
for (const s of seeds) {
  for (let i = 0; i < 400; i++)
    corpus.push(applyMutation(s, { kind: 'flip', pos: rand(), xor: (rand() % 255) + 1 }));
  for (let i = 0; i < 100; i++) corpus.push(applyMutation(s, { kind: 'truncate', keep: rand() }));
  for (const edit of ['inc', 'dec', 'long', 'indefinite'])
    for (let i = 0; i < 50; i++) corpus.push(applyMutation(s, { kind: 'length', header: rand(), edit }));
}
const accepts = (fn, d) => {
  try {
    fn(d);
    return true;
  } catch {
    return false;
  }
};
const ours = parsers['core/x509 parseCertificate'];
const openssl = parsers['OpenSSL X509Certificate'];
console.log(`\nmutation corpus: ${corpus.length} mutants of ${seeds.length} certificates`);
for (const [name, fn] of Object.entries(parsers)) {
  if (name.includes('+')) continue;
  let acc = 0;
  let accRejectedByOpenssl = 0;
  let accRejectedByOurs = 0;
  for (const d of corpus) {
    if (!accepts(fn, d)) continue;
    acc++;
    if (!accepts(openssl, d)) accRejectedByOpenssl++;
    if (!accepts(ours, d)) accRejectedByOurs++;
  }
  console.log(
    `  ${name}: accepts ${acc}; of those OpenSSL refuses ${accRejectedByOpenssl}, core/x509 refuses ${accRejectedByOurs}`,
  );
}
