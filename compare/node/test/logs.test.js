'use strict';
// The log of PROTOCOL §4 as issue 13 left it: WHATSAT answers as one
// summary entry (or whole with [log] answers / --log-answers), size
// rotation (max_bytes, keep; entries never split; the size at start
// counts), and SIGHUP reopening the log without stopping the node.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startHerd, connect, eventually } = require('./helpers');
const { spawnSolo } = require('./proc');

const ENTRY = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [<>*] /;

async function whatsat(herd) {
  const c = await connect(herd.port('Clark'));
  c.send(`IAMAT kiwi +34.068930-118.445127 ${(Date.now() / 1000).toFixed(9)}\nWHATSAT kiwi 10 2\n`);
  await c.line();
  const at = await c.line();
  const json = await c.answerUntilBlank();
  c.close();
  // The whole answer as sent: AT line, JSON lines, and the blank line.
  const bytes = Buffer.byteLength(`${at}\n${json.join('\n')}\n\n`, 'latin1');
  return { at, json, bytes };
}

test('a WHATSAT answer is logged as its summary entry', async () => {
  const herd = await startHerd({ Clark: [] });
  let got;
  try {
    got = await whatsat(herd);
  } finally {
    await herd.stop();
  }
  const log = herd.logText('Clark');
  const escaped = got.at.replace(/[.+]/g, '\\$&');
  assert.match(log, new RegExp(`> 127\\.0\\.0\\.1:\\d+ ${escaped} \\[answer: OK, 2 results, ${got.bytes} bytes\\]\\n`));
  assert.ok(!log.includes('html_attributions'), 'the JSON is not logged');
});

test('[log] answers = true logs the whole answer', async () => {
  const herd = await startHerd({ Clark: [] }, '[log]\nanswers = true');
  try {
    await whatsat(herd);
  } finally {
    await herd.stop();
  }
  const log = herd.logText('Clark');
  assert.ok(log.includes('html_attributions'));
  assert.ok(!log.includes('[answer: '));
});

test('size rotation: NAME.log.1 .. .K, entries whole, the size at start counts', async () => {
  const herd = await startHerd({ Clark: [] }, '[log]\nmax_bytes = 1500\nkeep = 2');
  const file = path.join(herd.logDir, 'Clark.log');
  await herd.kill('Clark');
  // What was there at start counts: 1400 bytes of it.
  const before = '2026-01-01T00:00:00.000000Z * before\n'.repeat(37);
  fs.writeFileSync(file, before + 'x'.repeat(1400 - before.length - 1) + '\n');
  await herd.start('Clark');
  try {
    const c = await connect(herd.port('Clark'));
    for (let i = 0; i < 40; i++) {
      c.send(`HELLO ${i} ${'y'.repeat(40)}\n`);
      assert.match(await c.line(), /^\? HELLO/);
    }
    // An entry larger than the limit goes alone into a fresh file.
    c.send(`HUGE ${'z'.repeat(2000)}\nAFTER\n`);
    assert.match(await c.line(), /^\? HUGE/);
    assert.equal(await c.line(), '? AFTER');
    c.close();
  } finally {
    await herd.stop();
  }
  const files = fs.readdirSync(herd.logDir).filter((f) => f.startsWith('Clark.log')).sort();
  assert.deepEqual(files, ['Clark.log', 'Clark.log.1', 'Clark.log.2']);
  const texts = files.map((f) => fs.readFileSync(path.join(herd.logDir, f), 'utf8'));
  for (const [i, text] of texts.entries()) {
    assert.ok(text.endsWith('\n'), files[i]);
    const lines = text.slice(0, -1).split('\n');
    for (const line of lines) assert.match(line, files[i] === 'Clark.log.2' && line.startsWith('x') ? /^x+$/ : ENTRY);
    if (lines.length > 1) assert.ok(Buffer.byteLength(text) <= 1500, `${files[i]}: ${Buffer.byteLength(text)} bytes`);
  }
  // The old content went out first, whole (the oldest kept file, or deleted).
  assert.ok(!texts[0].includes('* before') && !texts[1].includes('* before'));
  // The huge entry sits alone in its file; the entries after it follow in the next.
  const huge = texts.findIndex((t) => t.includes('HUGE'));
  assert.equal(texts[huge].trimEnd().split('\n').length, 1);
  assert.ok(texts[0].includes('AFTER') || texts[0].includes('stopped'));
});

test('SIGHUP reopens the log: `log reopened` first in the new file, the node keeps running', async (t) => {
  const solo = await spawnSolo(t);
  const c = await connect(solo.port);
  c.send('BEFORE\n');
  assert.equal(await c.line(), '? BEFORE');
  assert.ok(await eventually(() => fs.existsSync(solo.logPath) && fs.readFileSync(solo.logPath, 'utf8').includes('BEFORE')));
  fs.renameSync(solo.logPath, `${solo.logPath}.moved`);
  solo.child.kill('SIGHUP');
  assert.ok(await eventually(() => fs.existsSync(solo.logPath), 5000), 'the log is created again');
  c.send('AFTER\n');
  assert.equal(await c.line(), '? AFTER');
  assert.ok(await eventually(() => fs.readFileSync(solo.logPath, 'utf8').includes('AFTER')));
  const fresh = fs.readFileSync(solo.logPath, 'utf8').split('\n');
  assert.match(fresh[0], /^\S+ \* log reopened$/);
  assert.ok(solo.alive(), 'SIGHUP did not stop the node');
  const moved = fs.readFileSync(`${solo.logPath}.moved`, 'utf8');
  assert.ok(moved.includes('BEFORE') && !moved.includes('AFTER'));
  c.close();
});
