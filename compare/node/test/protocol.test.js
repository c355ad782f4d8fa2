'use strict';
// protocol.js without sockets: the rules of src/protocol.rs, case for case.
const test = require('node:test');
const assert = require('node:assert/strict');
const p = require('../lib/protocol');

const b = (s) => Buffer.from(s, 'utf8');

test('separators are exactly the six bytes', () => {
  assert.deepEqual(p.fields('a\vb\fc\td\re\nf g\u00a0h\u001ci\u0085j\ufeffk'), [
    'a', 'b', 'c', 'd', 'e', 'f', 'g\u00a0h\u001ci\u0085j\ufeffk',
  ]);
  assert.ok(p.isBlank(b(' \t\r\n\v\f')));
  assert.ok(!p.isBlank(b(' \u00a0 ')));
});

test('times parse to exact BigInt nanoseconds', () => {
  assert.equal(p.parseNanos('1621464827.959498503'), 1621464827959498503n);
  assert.equal(p.parseNanos('-1.5'), -1500000000n);
  assert.equal(p.parseNanos('+7'), 7000000000n);
  assert.equal(p.parseNanos('0.000000001'), 1n);
  assert.equal(p.parseNanos('00000000000000000000000001'), 1000000000n);
  for (const bad of ['', '+', '.5', '5.', '1e9', 'inf', 'nan', '1.0000000001', '--1', '1.2.3', '\u0663']) {
    assert.equal(p.parseNanos(bad), null, bad);
  }
  assert.notEqual(p.parseNanos('99999999999999999999'), null);
  assert.equal(p.parseNanos('100000000000000000000'), null);
});

test('differences are exact where floats are not', () => {
  const client = p.parseNanos('1621464827.959498503');
  assert.equal(p.formatNanos(1621464828223371889n - client), '+0.263873386');
  assert.equal(p.formatNanos(client - 1621464828223371889n), '-0.263873386');
  assert.equal(p.formatNanos(0n), '+0.000000000');
  assert.equal(p.formatNanos(-1n), '-0.000000001');
  assert.notEqual((1621464828.223371889 - 1621464827.959498503).toFixed(9), '0.263873386');
});

test('locations are checked on their digits', () => {
  assert.deepEqual(p.parseLocation('+34.068930-118.445127'), { lat: 34.06893, lng: -118.445127 });
  assert.ok(p.parseLocation('+90-180'));
  assert.ok(p.parseLocation('-90.000+180.0'));
  assert.ok(p.parseLocation('+0+0'));
  assert.ok(p.parseLocation('+034.5-0118'));
  for (const bad of ['34.068930-118.445127', '+34.068930', '+90.0000000000000001+0', '+0+180.1', '+91+0',
    '+34.-118', '+.5-118', '+34.1-118.2+3', '+34,1-118', '+1e1+2', '++1+2']) {
    assert.equal(p.parseLocation(bad), null, bad);
  }
});

test('radius becomes exact metres', () => {
  const m = (t) => (p.parseRadius(t) || {}).metresText;
  assert.equal(m('10'), '10000');
  assert.equal(m('1.2345'), '1234.5');
  assert.equal(m('2.5005'), '2500.5');
  assert.equal(m('0.0005'), '0.5');
  assert.equal(m('050.000'), '50000');
  assert.equal(m('0.001'), '1');
  for (const bad of ['0', '0.000', '50.0001', '51', '-1', '+1', '1e1', '.5', '5.', '']) {
    assert.equal(p.parseRadius(bad), null, bad);
  }
});

test('bounds are whole numbers from 1 to 20', () => {
  assert.equal(p.parseBound('1'), 1);
  assert.equal(p.parseBound('020'), 20);
  assert.equal(p.parseBound('05'), 5);
  for (const bad of ['0', '21', '-1', '+5', '5.0', '', '100000000000000000000005']) {
    assert.equal(p.parseBound(bad), null, bad);
  }
});

test('requests parse by field count; non-UTF-8 is invalid', () => {
  assert.equal(p.parse(b('IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503')).kind, 'iamat');
  assert.equal(p.parse(b('\vWHATSAT\vkiwi 10 5\r')).kind, 'whatsat');
  assert.equal(p.parse(b('   ')).kind, 'blank');
  assert.deepEqual(p.parse(b('PEER Clark')), { kind: 'peer', name: 'Clark' });
  for (const bad of ['IAMAT a +1+1', 'IAMAT a +1+1 1 extra', 'iamat a +1+1 1', 'WHATSAT a 10', 'HELLO']) {
    assert.equal(p.parse(b(bad)).kind, 'invalid', bad);
  }
  assert.equal(p.parse(Buffer.from([0x49, 0xff, 0x20])).kind, 'invalid');
  const at = 'AT Clark +0.263873386 kiwi +34.068930-118.445127 1621464827.959498503';
  const parsed = p.parse(b(at.replaceAll(' ', '\t ')));
  assert.equal(parsed.kind, 'at');
  assert.equal(parsed.line, at);
  assert.equal(p.parse(b('AT Clark +0.26 kiwi +1+1 1')).kind, 'invalid');
});

test('random lines never throw, and AT lines format back to themselves', () => {
  const pieces = ['IAMAT', 'WHATSAT', 'AT', 'PEER', ' ', '\v', '\t', '+', '-', '.', '0', '1', '9', '34', '118',
    '90', '180', '50', '20', '1621464827', 'e', '\u00a0', '\u00e9', 'x'];
  let seed = 0x2545f4914f6cdd1dn;
  const next = () => {
    seed = (seed * 6364136223846793005n + 1n) & 0xffffffffffffffffn;
    return seed;
  };
  for (let n = 0; n < 20000; n++) {
    let line = '';
    const count = Number(next() >> 60n) + 1;
    for (let k = 0; k < count; k++) line += pieces[Number(next() >> 33n) % pieces.length];
    const parsed = p.parse(b(line));
    if (parsed.kind === 'at') assert.equal(p.parse(b(parsed.line)).kind, 'at', line);
  }
});
