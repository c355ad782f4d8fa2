'use strict';
// The pure core besides protocol.js: cache merge rule, JSON layout and
// parser, offline search, config validation, the google-new mapping.
const test = require('node:test');
const assert = require('node:assert/strict');
const protocol = require('../lib/protocol');
const { Cache, record, newer } = require('../lib/cache');
const { parseJson, toGoogleJson, squeezeNewlines, JsonNumber } = require('../lib/places/json-format');
const { sharedIndex, haversineM, cellsNear } = require('../lib/places/offline');
const { parseConfig, defaultConfigText } = require('../lib/config');
const { toLegacy, errorFromAnswer, requestBody } = require('../lib/places/google-new');
const { rustFloat } = require('../lib/places/http');
const { escape, timestamp } = require('../lib/logfile');

const rec = (line) => record(protocol.parse(Buffer.from(line)));

test('newest time wins; equal times go to the byte-wise larger line', () => {
  const old = rec('AT Clark +0.000000000 kiwi +1+2 10');
  const nw = rec('AT Bernard +0.000000000 kiwi +1+2 10.5');
  const small = rec('AT Bernard +0.000000000 kiwi +1+2 10.5');
  const large = rec('AT Clark +0.000000000 kiwi +1+2 10.5');
  assert.ok(newer(nw, old) && !newer(old, nw));
  assert.ok(newer(large, small) && !newer(small, large));
  assert.ok(!newer(small, rec('AT Bernard +0.000000000 kiwi +1+2 10.5')));
  // Bytes, not UTF-16 units: U+FF61 sorts below U+1F600 in UTF-8.
  assert.ok(newer(rec('AT \u{1F600} +0.000000000 k +1+2 1'), rec('AT \uFF61 +0.000000000 k +1+2 1')));
  const lines = ['AT A +0.000000000 kiwi +1+2 10', 'AT B +0.000000000 kiwi +1+2 12', 'AT C +0.000000000 kiwi +1+2 12', 'AT D +0.000000000 kiwi +1+2 11'];
  for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]]) {
    const cache = new Cache();
    for (const i of order) cache.offer(rec(lines[i]));
    assert.equal(cache.get('kiwi').line, lines[2]);
  }
  const cache = new Cache();
  assert.ok(cache.offer(rec(lines[0])));
  assert.equal(cache.offer(rec(lines[0])), null);
});

test('JSON layout: 3 spaces, " : ", escapes, numbers as written', () => {
  const layout = (t) => toGoogleJson(parseJson(t));
  assert.equal(
    layout('{"results":[{"name":"Rest","geometry":{"location":{"lat":1,"lng":2}},"types":["a","b"]}],"html_attributions":[],"status":"OK"}'),
    '{\n   "results" : [\n      {\n         "name" : "Rest",\n         "geometry" : {\n            "location" : {\n               "lat" : 1,\n               "lng" : 2\n            }\n         },\n         "types" : [\n            "a",\n            "b"\n         ]\n      }\n   ],\n   "html_attributions" : [],\n   "status" : "OK"\n}',
  );
  assert.equal(layout('[[],{},[{}]]'), '[\n   [],\n   {},\n   [\n      {}\n   ]\n]');
  assert.equal(layout('{"a":true,"b":false,"c":null}'), '{\n   "a" : true,\n   "b" : false,\n   "c" : null\n}');
  assert.equal(layout('[-73.97649899999999,1E-7,4.50,-0.0,3]'), '[\n   -73.97649899999999,\n   1e-7,\n   4.50,\n   -0.0,\n   3\n]');
  assert.equal(layout('"<a> & / \\u0001 \\u007f \\b\\f\\n\\r\\t \\" \\\\ é \\ud83d\\ude00"'), '"\\u003ca\\u003e & / \\u0001 \\u007f \\b\\f\\n\\r\\t \\" \\\\ é 😀"');
  // Key order is the provider's, integer-like keys included.
  assert.equal(layout('{"b":1,"2":2,"a":3,"1":4}'), '{\n   "b" : 1,\n   "2" : 2,\n   "a" : 3,\n   "1" : 4\n}');
  for (const bad of ['', '{', '[1,]', '{"a":1,}', '01', '1.', '"\\ud800"', 'nul', '{"a" 1}', '[1] x', '"\u0001"']) {
    assert.throws(() => parseJson(bad), undefined, bad);
  }
  assert.throws(() => parseJson(Buffer.from([0x22, 0xff, 0x22])));
  assert.equal(squeezeNewlines('a\n\n\nb\n\n'), 'a\nb');
});

test('offline search: the grid answers exactly what a full scan answers', () => {
  const index = sharedIndex();
  assert.equal(index.length, 144524);
  const scan = (lat, lng, r) => {
    const all = [];
    for (let i = 0; i < index.length; i++) {
      const d = haversineM(lat, lng, index.lats[i], index.lngs[i]);
      if (d <= r) all.push([i, d]);
    }
    all.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    return all.map(([i]) => index.place(i).placeId);
  };
  for (const [lat, lng, r] of [[34.06893, -118.445127, 50000], [89.9, 0, 50000], [-89.99, 10, 50000], [0, 179.99, 50000],
    [10, -180, 50000], [51.5, -0.12, 3000], [0, -140, 50000], [70, 179.9, 50000], [-60, -179.5, 50000]]) {
    const grid = index.within(lat, lng, r, Infinity).map(([p]) => p.placeId);
    assert.deepEqual(grid, scan(lat, lng, r), `${lat} ${lng} ${r}`);
  }
  const ucla = index.within(34.06893, -118.445127, 10000, 20);
  assert.equal(ucla[0][0].name, 'Westwood, Los Angeles');
  assert.equal(ucla[0][0].latText, '34.05612');
  assert.ok(cellsNear(89.5, 0, 1000).length >= 360);
  assert.deepEqual(index.within(0, 0, -1, 20), []);
});

test('config: the default herd, symmetric links, and one-line errors', () => {
  const herd = parseConfig(defaultConfigText());
  assert.deepEqual(herd.servers.map((s) => [s.name, s.addr, s.peers]), [
    ['Bernard', '127.0.0.1:12331', ['Jaquez', 'Johnson', 'Juzang']],
    ['Clark', '127.0.0.1:12332', ['Jaquez', 'Juzang']],
    ['Jaquez', '127.0.0.1:12333', ['Bernard', 'Clark']],
    ['Johnson', '127.0.0.1:12334', ['Bernard', 'Juzang']],
    ['Juzang', '127.0.0.1:12335', ['Bernard', 'Clark', 'Johnson']],
  ]);
  assert.equal(herd.places.provider, 'offline');
  assert.equal(herd.places.timeoutMs, 5000);
  assert.equal(herd.limits.maxLineBytes, 65536);
  const TWO = '[[server]]\nname = "A"\naddr = "127.0.0.1:1"\npeers = ["B"]\n[[server]]\nname = "B"\naddr = "127.0.0.1:2"\n';
  assert.deepEqual(parseConfig(TWO).servers[1].peers, ['A']);
  const o = parseConfig(`${TWO}[limits]\nthreads = 8\nidle_timeout_ms = 500\n`, { threads: 4 });
  assert.equal(o.limits.threads, 4);
  assert.equal(o.limits.idleTimeoutMs, 500);
  // The blocking build's park_idle_ms: a herd.toml shared with it parses.
  assert.equal(parseConfig(`${TWO}[limits]\npark_idle_ms = 0\n`).limits.parkIdleMs, 0);
  assert.equal(parseConfig(TWO, { parkIdleMs: 250 }).limits.parkIdleMs, 250);
  assert.throws(() => parseConfig(`${TWO}[limits]\npark_idle_ms = "soon"\n`), /park_idle_ms/);
  const cases = [
    [TWO.replace('peers = ["B"]', 'peers = ["C"]'), 'peer "C" is not a server'],
    [TWO.replace('127.0.0.1:2', '127.0.0.1'), 'is not host:port'],
    [TWO.replace('127.0.0.1:2', '127.0.0.1:0'), 'is not host:port'],
    [TWO.replace('127.0.0.1:2', '127.0.0.1:1'), 'used twice'],
    [TWO.replace('name = "B"', 'name = "A"'), 'named twice'],
    [TWO.replace('name = "B"', 'name = "B C"'), 'no white space'],
    [TWO.replace('peers = ["B"]', 'peers = ["A"]'), 'names itself'],
    [`${TWO}[places]\nprovider = "bing"\n`, 'unknown'],
    [`${TWO}[places]\nurl = "ftp://x"\n`, 'not an http(s) URL'],
    [`${TWO}[places]\ntimeout_ms = 0\n`, 'more than 0'],
    [`${TWO}[limits]\nthreads = 0\n`, 'threads must be more than 0'],
    [`${TWO}[limits]\nthreads = 4.0\n`, 'invalid type'],
    [`${TWO}[limits]\nthreads = -1\n`, 'invalid value'],
    [`${TWO}[limits]\nreconnect_max_ms = 10\n`, 'at least reconnect_min_ms'],
    [`${TWO}[limits]\nthread = 4\n`, 'unknown field'],
    [`${TWO}[limits]\nhandshake_timeout_ms = 0\n`, 'handshake_timeout_ms must be more than 0'],
    [`${TWO}[herd]\nsecret_env = 3\n`, 'expected a string'],
    ['[[server]]\nname = 3\naddr = "x:1"\n', 'invalid type'],
    ['a = = 1\n', 'line 1'],
    ['', 'no [[server]]'],
  ];
  for (const [text, expected] of cases) {
    let message = null;
    try {
      parseConfig(text);
    } catch (e) {
      message = e.message;
    }
    assert.ok(message !== null, `accepted: ${text}`);
    assert.ok(message.includes(expected), `${message} does not say ${expected}`);
    assert.ok(!message.includes('\n'), `${message} is more than one line`);
  }
});

test('google-new answers map onto the legacy shape', () => {
  const answer = parseJson(`{"places":[{"name":"places/X","id":"X","types":["cafe",3],"location":{"latitude":34.0736204},
    "viewport":{"low":{"latitude":1.5,"longitude":2},"high":{"longitude":4.25}},"businessStatus":"OPERATIONAL",
    "displayName":{"text":"Caf\u00e9 <1>","languageCode":"en"},"shortFormattedAddress":"1 Main St","plusCode":{"globalCode":"G"},
    "iconMaskBaseUri":"https://i","iconBackgroundColor":"#FF9E67"}]}`);
  assert.equal(
    toGoogleJson(toLegacy(answer)),
    toGoogleJson(parseJson(`{"html_attributions":[],"results":[{"business_status":"OPERATIONAL",
      "geometry":{"location":{"lat":34.0736204,"lng":0},"viewport":{"northeast":{"lat":0,"lng":4.25},"southwest":{"lat":1.5,"lng":2}}},
      "icon_background_color":"#FF9E67","icon_mask_base_uri":"https://i","name":"Caf\u00e9 <1>","place_id":"X",
      "plus_code":{"global_code":"G"},"reference":"X","scope":"GOOGLE","types":["cafe"],"vicinity":"1 Main St"}],"status":"OK"}`)),
  );
  assert.equal(toLegacy(parseJson('{}')).get('status'), 'ZERO_RESULTS');
  assert.throws(() => toLegacy(parseJson('{"places":3}')), /not a list/);
  const denied = errorFromAnswer(400, Buffer.from('{"error":{"code":400,"message":"API key not valid: SECRET\\u0001","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}'), 'SECRET');
  assert.equal(denied.status, 'REQUEST_DENIED');
  assert.equal(denied.message, 'Places API (New) answered 400 INVALID_ARGUMENT: API key not valid: <redacted> ');
  assert.equal(errorFromAnswer(403, Buffer.from('{"error":{"status":"PERMISSION_DENIED"}}'), 'k').status, 'REQUEST_DENIED');
  assert.equal(errorFromAnswer(429, Buffer.from('{"error":{"message":"m"}}'), 'k').status, 'OVER_QUERY_LIMIT');
  assert.equal(errorFromAnswer(502, Buffer.from('<html>'), 'k').message, 'Places API (New) answered HTTP 502');
  assert.equal(
    requestBody({ lat: 34.06893, lng: -118.445127, radiusMText: '2500.5', radiusM: 2500.5, bound: 5 }),
    '{"locationRestriction":{"circle":{"center":{"latitude":34.06893,"longitude":-118.445127},"radius":2500.5}},"maxResultCount":5}',
  );
});

test('floats are written as Rust writes them; log entries are escaped', () => {
  assert.equal(rustFloat(1e-7), '0.0000001');
  assert.equal(rustFloat(-1.5e-7), '-0.00000015');
  assert.equal(rustFloat(-0), '-0');
  assert.equal(rustFloat(34.06893), '34.06893');
  assert.equal(rustFloat(90), '90');
  assert.equal(escape(Buffer.from('IAMAT a\\b\n\r\t\x0b\xc2\xa0\xff', 'latin1')), 'IAMAT a\\\\b\\n\\r\\t\\x0b\\xc2\\xa0\\xff');
  assert.ok(escape(Buffer.alloc(4106, 'x')).endsWith('... (+10 bytes)'));
  assert.match(timestamp(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(timestamp(1795682180135795498n), '2026-11-26T08:36:20.135795Z');
});
