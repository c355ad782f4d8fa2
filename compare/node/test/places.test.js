'use strict';
// Both Google providers against a small fake Places server on port 0:
// numbers and key order passed through, errors in our own words, the
// timeout honoured, redirects not followed, the key never in a message.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { Google } = require('../lib/places/google');
const { GoogleNew, FIELD_MASK, errorFromAnswer } = require('../lib/places/google-new');
const { whatsatJson } = require('../lib/places');

const KEY = 'SECRET-key_1';
const query = { lat: 34.06893, lng: -118.445127, radiusMText: '2500.5', radiusM: 2500.5, bound: 1 };

async function fakePlaces(handler) {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, seen, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

test('google: request, numbers and key order kept, results cut to the bound', async () => {
  const fake = await fakePlaces((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"z":1,"html_attributions":[],"results":[{"n":-73.97649899999999},{"n":2}],"status":"OK"}');
  });
  try {
    const json = await whatsatJson(new Google(`${fake.base}/nearby`, KEY, 1000), query);
    assert.equal(json, '{\n   "z" : 1,\n   "html_attributions" : [],\n   "results" : [\n      {\n         "n" : -73.97649899999999\n      }\n   ],\n   "status" : "OK"\n}');
    assert.equal(fake.seen[0].url, `/nearby?location=34.06893,-118.445127&radius=2500.5&key=${KEY}`);
  } finally {
    await fake.close();
  }
});

test('google: errors are legacy-shaped, in our words, without the key', async () => {
  let mode = 'denied';
  const fake = await fakePlaces((req, res) => {
    if (mode === 'denied') res.end('{"error_message":"The provided API key is invalid.","html_attributions":[],"results":[],"status":"REQUEST_DENIED"}');
    else if (mode === '500') { res.statusCode = 500; res.end('<html>'); }
    else if (mode === 'redirect') { res.statusCode = 302; res.setHeader('location', 'http://example.com/'); res.end(); }
    else if (mode === 'broken') res.end('{"status":');
    // 'hang': never answer
  });
  try {
    const g = new Google(`${fake.base}/nearby`, KEY, 300);
    const expect = async (m, status, message) => {
      mode = m;
      const json = await whatsatJson(g, query);
      assert.ok(json.includes(`"status" : "${status}"`), json);
      assert.ok(json.includes(`"error_message" : "${message}"`), json);
      assert.ok(!json.includes(KEY));
    };
    await expect('denied', 'REQUEST_DENIED', 'The provided API key is invalid.');
    await expect('500', 'UNKNOWN_ERROR', 'Places answered HTTP 500');
    await expect('redirect', 'UNKNOWN_ERROR', 'Places answered HTTP 302');
    await expect('broken', 'UNKNOWN_ERROR', 'Places answered with malformed JSON');
    const started = Date.now();
    await expect('hang', 'UNKNOWN_ERROR', 'Places did not answer within 300 ms');
    assert.ok(Date.now() - started < 1300);
  } finally {
    await fake.close();
  }
  const closed = await fakePlaces(() => {});
  await closed.close();
  const refused = await whatsatJson(new Google(`${closed.base}/x`, KEY, 500), query);
  assert.ok(refused.includes('"Places could not be reached (connection refused)"'), refused);
});

test('google-new: a key at the message cut or in the status word is still redacted', () => {
  // Found by the Rust build's fuzzing: the key must go before Google's text is
  // cut to its limit or its status word filtered.
  const key = 'AIzaSyD-0123456789abcdefghijklmnopqrstu';
  const atTheCut = 'x'.repeat(990) + key + ' is not valid';
  let body = Buffer.from(JSON.stringify({ error: { code: 403, message: atTheCut, status: 'PERMISSION_DENIED' } }));
  let message = errorFromAnswer(403, body, key).message;
  assert.ok(!message.includes(key.slice(0, 10)), message);
  body = Buffer.from(JSON.stringify({ error: { status: key } }));
  message = errorFromAnswer(403, body, key).message;
  assert.ok(!message.includes(key.slice(0, 7)) && !message.includes(key.replace('-', '').slice(0, 7)), message);
});

test('google-new: POST with key header and field mask; envelope errors mapped', async () => {
  let status = 200;
  const fake = await fakePlaces((req, res) => {
    res.statusCode = status;
    if (status === 200) res.end('{"places":[{"id":"P","displayName":{"text":"T"},"location":{"latitude":1.50,"longitude":-2}}]}');
    else res.end(`{"error":{"code":403,"message":"Key ${KEY} is not allowed","status":"PERMISSION_DENIED"}}`);
  });
  try {
    const g = new GoogleNew(`${fake.base}/v1/places:searchNearby`, KEY, 1000);
    const json = await whatsatJson(g, { ...query, bound: 3 });
    assert.ok(json.includes('"lat" : 1.50'), json);
    assert.ok(json.includes('"scope" : "GOOGLE"'));
    const seen = fake.seen[0];
    assert.equal(seen.headers['x-goog-api-key'], KEY);
    assert.equal(seen.headers['x-goog-fieldmask'], FIELD_MASK);
    assert.ok(!seen.url.includes(KEY));
    assert.equal(seen.body, '{"locationRestriction":{"circle":{"center":{"latitude":34.06893,"longitude":-118.445127},"radius":2500.5}},"maxResultCount":3}');
    status = 403;
    const denied = await whatsatJson(g, query);
    assert.ok(denied.includes('"error_message" : "Places API (New) answered 403 PERMISSION_DENIED: Key \\u003credacted\\u003e is not allowed"'), denied);
    assert.ok(denied.includes('"status" : "REQUEST_DENIED"'));
  } finally {
    await fake.close();
  }
});
