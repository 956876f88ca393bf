/** NOTE_KEY_PATH and PUBLIC_URL: defaults, resolution, and the checks that stop the boot. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/modules/config/config';

describe('trust configuration', () => {
  test('defaults: note key in DATA_DIR, public URL http://LOG_HOSTNAME', () => {
    const c = loadConfig({ DATA_DIR: 'd', PORT: '3100' }, '/srv');
    assert.equal(c.noteKeyPath, '/srv/d/note-key.pem');
    assert.equal(c.noteKeyExplicit, false);
    assert.equal(c.publicUrl, 'http://127.0.0.1:3100');
    const e = loadConfig(
      { NOTE_KEY_PATH: 'keys/note.pem', LOG_HOSTNAME: 'log.example', PUBLIC_URL: 'https://log.example/' },
      '/srv',
    );
    assert.equal(e.noteKeyPath, '/srv/keys/note.pem');
    assert.equal(e.noteKeyExplicit, true);
    assert.equal(e.publicUrl, 'https://log.example', 'trailing slash dropped: clients append API paths');
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ PUBLIC_URL: 'not a url' }, /not a valid URL/],
    [{ PUBLIC_URL: 'ftp://127.0.0.1:3000' }, /http:\/\/ or https:\/\//],
    [{ PUBLIC_URL: 'http://127.0.0.1:3000/?x=1' }, /no query or fragment/],
    [{ LOG_HOSTNAME: 'log.example', PUBLIC_URL: 'https://other.example' }, /does not contain LOG_HOSTNAME/],
  ];
  for (const [env, why] of bad) {
    test(`${JSON.stringify(env)} stops the boot naming PUBLIC_URL`, () => {
      assert.throws(
        () => loadConfig(env, '/srv'),
        (e: unknown) => e instanceof ConfigError && e.variable === 'PUBLIC_URL' && why.test(e.message),
      );
    });
  }
});
