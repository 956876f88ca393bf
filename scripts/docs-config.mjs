// `npm run docs:config`: rewrites README.md's configuration tables from the compiled config schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { rewriteConfigTables } = require('../dist/src/modules/config/config-docs.js');
const before = readFileSync('README.md', 'utf8');
const after = rewriteConfigTables(before);
if (after === before) {
  console.log('README.md configuration tables are up to date');
} else {
  writeFileSync('README.md', after);
  console.log('README.md configuration tables rewritten');
}
