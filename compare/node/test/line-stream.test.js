'use strict';
// The framer without sockets: chunks are not lines.
const test = require('node:test');
const assert = require('node:assert/strict');
const { LineFramer } = require('../lib/line-stream');

function lines(chunks, max) {
  const f = new LineFramer(max);
  const out = [];
  const take = (events) => {
    for (const e of events) out.push(e.type === 'line' ? `L:${e.line.toString('latin1')}` : `TOO LONG:${e.head.length}`);
  };
  for (const c of chunks) take(f.push(Buffer.from(c, 'latin1')));
  take(f.end());
  return out;
}

test('splits on LF and CR LF and keeps a last line at EOF', () => {
  assert.deepEqual(lines(['a\nb\r\n\r\nc\rd'], 100), ['L:a', 'L:b', 'L:', 'L:c\rd']);
  assert.deepEqual(lines([''], 100), []);
});

test('a line may come in many chunks, and a chunk may hold many lines', () => {
  assert.deepEqual(lines(['IA', 'MAT x', ' +1+1 1\r', '\nWHATSAT', ' x 1 1\nHELLO\nHI'], 100), [
    'L:IAMAT x +1+1 1', 'L:WHATSAT x 1 1', 'L:HELLO', 'L:HI',
  ]);
  assert.deepEqual(lines('abc\ndef\n'.split(''), 100), ['L:abc', 'L:def']);
});

test('caps line length in bytes', () => {
  assert.deepEqual(lines(['12345\n123456\nx\n'], 5), ['L:12345', 'TOO LONG:6']);
  assert.deepEqual(lines(['12345\r\n'], 5), ['L:12345']);
  assert.deepEqual(lines(['x'.repeat(5000)], 2000), ['TOO LONG:1024']);
  assert.deepEqual(lines(['123456'], 5), ['TOO LONG:6']);
  // Over the cap without a newline: refused as soon as it is seen.
  const f = new LineFramer(10);
  assert.deepEqual(f.push(Buffer.from('x'.repeat(12))).map((e) => e.type), ['tooLong']);
  assert.deepEqual(f.push(Buffer.from('\nmore\n')), []);
});

test('handles lines longer than one chunk', () => {
  const got = lines(['y'.repeat(30000), 'y'.repeat(30000) + '\nz\n'], 64 * 1024);
  assert.equal(got.length, 2);
  assert.equal(got[0].length, 2 + 60000);
  assert.equal(got[1], 'L:z');
});

test('non-UTF-8 bytes pass through untouched', () => {
  const f = new LineFramer(100);
  const [e] = f.push(Buffer.from([0xff, 0xfe, 0x0a]));
  assert.deepEqual([...e.line], [0xff, 0xfe]);
});

test('a line trickling in byte by byte costs linear time', () => {
  const f = new LineFramer(64 * 1024);
  const started = Date.now();
  const one = Buffer.from('x');
  for (let i = 0; i < 60000; i++) assert.equal(f.push(one).length, 0);
  const [e] = f.push(Buffer.from('\r\n'));
  assert.equal(e.line.length, 60000);
  assert.ok(Date.now() - started < 2000);
});
