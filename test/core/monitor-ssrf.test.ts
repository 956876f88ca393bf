import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkDestination, classifyAddress, isForbiddenDestination } from '../../src/core/monitor/ssrf';
import { formatIpv6, parseIp } from '../../src/core/x509';

describe('classifyAddress', () => {
  const table: Array<[string, string]> = [
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.18.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fd00:ec2::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['2606:4700:4700::1111', 'public'],
    ['[2606:4700:4700::1111]', 'public'],
    // IPv4 embedded in IPv6 is judged by the IPv4 address.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::808:808', 'public'],
    ['2002:7f00:1::', 'loopback'],
    ['2001::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['localhost', 'invalid'],
    ['127.1', 'invalid'],
    ['0x7f.0.0.1', 'invalid'],
    ['1::2::3', 'invalid'],
    ['', 'invalid'],
  ];
  for (const [addr, want] of table) {
    it(`${addr || '(empty)'} is ${want}`, () => assert.equal(classifyAddress(addr), want));
  }
});

describe('checkDestination', () => {
  const cases: Array<[string, string[], boolean, boolean]> = [
    // url, resolved addresses, allowPrivate, forbidden
    ['https://hooks.example.com/x', ['93.184.216.34'], false, false],
    ['https://hooks.example.com/x', ['93.184.216.34', '10.0.0.5'], false, true], // any internal address forbids
    ['https://hooks.example.com/x', [], false, true], // unresolved: fail closed
    ['https://hooks.example.com/x', ['not-an-ip'], false, true],
    ['http://127.0.0.1:8080/hook', [], false, true],
    ['http://127.0.0.1:8080/hook', [], true, false], // opt-in for local receivers
    ['http://[::1]/hook', [], false, true],
    ['http://[::ffff:127.0.0.1]/hook', [], false, true],
    ['http://[::ffff:169.254.169.254]/hook', [], true, true], // metadata even with allowPrivate
    ['http://169.254.169.254/latest/meta-data', [], true, true],
    ['http://2130706433/', [], false, true], // URL parser normalises to 127.0.0.1
    ['http://0x7f.1/', [], false, true],
    ['http://localhost/', ['127.0.0.1'], false, true],
    ['http://app.localhost/', ['93.184.216.34'], false, true],
    ['http://metadata.google.internal/', ['169.254.169.254'], true, true],
    ['https://svc.internal/', ['93.184.216.34'], false, true],
    ['https://hook.example.com/', ['fe80::1'], true, true], // link-local never
    ['https://hook.example.com/', ['fd00::1'], true, false],
    ['ftp://hook.example.com/', ['93.184.216.34'], false, true],
    ['file:///etc/passwd', [], true, true],
    ['not a url', [], true, true],
  ];
  for (const [url, addrs, allowPrivate, forbidden] of cases) {
    it(`${url} ${JSON.stringify(addrs)} allowPrivate=${allowPrivate} → ${forbidden ? 'forbidden' : 'allowed'}`, () => {
      const r = checkDestination(url, addrs, allowPrivate);
      assert.equal(r.forbidden, forbidden, r.reason);
      assert.equal(isForbiddenDestination(url, addrs, allowPrivate), forbidden);
      if (forbidden) assert.ok(r.reason);
    });
  }
});

describe('ip helpers', () => {
  it('RFC 5952 formatting round-trips', () => {
    for (const [s, want] of [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::ffff:1.2.3.4', '::ffff:102:304'],
    ] as const) {
      assert.equal(formatIpv6(parseIp(s)!), want);
    }
  });
});
