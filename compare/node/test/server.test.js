'use strict';
// Whole nodes in this process, on ports the kernel picks.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const fs = require('node:fs');
const { startHerd, connect, eventually } = require('./helpers');

const NOW = () => (Date.now() / 1000).toFixed(9);

test('IAMAT, WHATSAT and bad lines on one connection, answered in order', async () => {
  const herd = await startHerd({ Clark: [] });
  try {
    const c = await connect(herd.port('Clark'));
    const t = NOW();
    c.send(`IAMAT kiwi +34.068930-118.445127 ${t}\nWHATSAT kiwi 10 2\nHELLO\n\n`);
    c.send(Buffer.from([0xff, 0x0a]));
    const at = await c.line();
    assert.match(at, new RegExp(`^AT Clark [+-]\\d+\\.\\d{9} kiwi \\+34\\.068930-118\\.445127 ${t.replace('.', '\\.')}$`));
    assert.equal(await c.line(), at);
    const json = await c.answerUntilBlank();
    assert.equal(json[0], '{');
    assert.ok(json.includes('   "status" : "OK"'));
    assert.equal(json.filter((l) => l.includes('"place_id"')).length, 2);
    assert.equal(await c.line(), '? HELLO');
    assert.equal(await c.line(), '? \xff');
    c.close();
  } finally {
    await herd.stop();
  }
});

test('a half-closed client gets its answers, a last line without newline counts', async () => {
  const herd = await startHerd({ Clark: [] });
  try {
    const c = await connect(herd.port('Clark'));
    c.send('HELLO\nBYE');
    c.socket.end();
    assert.equal(await c.line(), '? HELLO');
    assert.equal(await c.line(), '? BYE');
    assert.ok(await c.closedWithin(2000));
  } finally {
    await herd.stop();
  }
});

test('over-long line: `? ` + first 1 KiB, then closed', async () => {
  const herd = await startHerd({ Clark: [] }, 'max_line_bytes = 2000');
  try {
    const c = await connect(herd.port('Clark'));
    c.send('x'.repeat(5000) + '\nHELLO\n');
    assert.equal(await c.line(), '? ' + 'x'.repeat(1024));
    assert.equal(await c.line(), null);
    assert.ok(await c.closedWithin(2000));
  } finally {
    await herd.stop();
  }
});

test('idle clients are closed; a trickle does not extend the deadline', async () => {
  const herd = await startHerd({ Clark: [] }, 'idle_timeout_ms = 300');
  try {
    const idle = await connect(herd.port('Clark'));
    const trickle = await connect(herd.port('Clark'));
    const started = Date.now();
    const timer = setInterval(() => trickle.send('x'), 50);
    assert.ok(await trickle.closedWithin(2000));
    clearInterval(timer);
    const took = Date.now() - started;
    assert.ok(took >= 250 && took < 1000, `closed after ${took} ms`);
    assert.ok(await idle.closedWithin(1000));
    // A complete line restarts the wait.
    const busy = await connect(herd.port('Clark'));
    for (let i = 0; i < 4; i++) {
      busy.send('HELLO\n');
      assert.equal(await busy.line(), '? HELLO');
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.ok(!(await busy.closedWithin(10)));
    busy.close();
  } finally {
    await herd.stop();
  }
  const log = fs.readFileSync(`${herd.logDir}/Clark.log`, 'utf8');
  assert.match(log, /idle for 300ms, closed/);
});

test('connections over max_clients are closed at once and logged', async () => {
  const herd = await startHerd({ Clark: [] }, 'max_clients = 2');
  try {
    const a = await connect(herd.port('Clark'));
    const b = await connect(herd.port('Clark'));
    const c = await connect(herd.port('Clark'));
    assert.ok(await c.closedWithin(1000));
    a.send('HELLO\n');
    assert.equal(await a.line(), '? HELLO');
    a.close();
    await eventually(() => herd.nodes.Clark.node.clients.size === 1);
    const d = await connect(herd.port('Clark'));
    d.send('HELLO\n');
    assert.equal(await d.line(), '? HELLO');
    b.close();
    d.close();
  } finally {
    await herd.stop();
  }
  assert.match(fs.readFileSync(`${herd.logDir}/Clark.log`, 'utf8'), /refused 127\.0\.0\.1:\d+: 2 client connections already open/);
});

test('a client that never reads is dropped after the write timeout', async () => {
  const herd = await startHerd({ Clark: [] }, 'write_timeout_ms = 300\nmax_line_bytes = 1000000');
  try {
    const c = await connect(herd.port('Clark'));
    c.socket.pause();
    const line = 'H'.repeat(500000) + '\n';
    for (let i = 0; i < 20; i++) c.send(line);
    assert.ok(await eventually(() => herd.nodes.Clark.node.clients.size === 0, 5000));
  } finally {
    await herd.stop();
  }
});

test('PEER from a stranger is refused and closed; later PEER is just invalid', async () => {
  const herd = await startHerd({ Clark: [] });
  try {
    const a = await connect(herd.port('Clark'));
    a.send('PEER Nobody\n');
    assert.equal(await a.line(), '? PEER Nobody');
    assert.ok(await a.closedWithin(2000));
    const b = await connect(herd.port('Clark'));
    b.send('HELLO\nPEER Nobody\n');
    assert.equal(await b.line(), '? HELLO');
    assert.equal(await b.line(), '? PEER Nobody');
    assert.ok(!(await b.closedWithin(100)));
    b.close();
  } finally {
    await herd.stop();
  }
});

const FIVE = {
  Bernard: ['Jaquez', 'Johnson', 'Juzang'],
  Clark: ['Jaquez', 'Juzang'],
  Jaquez: ['Bernard', 'Clark'],
  Johnson: ['Bernard', 'Juzang'],
  Juzang: ['Bernard', 'Clark', 'Johnson'],
};

test('an update floods the five-node herd; newest wins, ties go to the larger line', async () => {
  const herd = await startHerd(FIVE);
  try {
    assert.ok(await eventually(herd.linked));
    const c = await connect(herd.port('Clark'));
    c.send(`IAMAT kiwi +34.068930-118.445127 100.5\n`);
    const at = await c.line();
    assert.ok(await eventually(() => Object.keys(FIVE).every((n) => herd.kept(n, 'kiwi') === at)));
    // Older: answered, changes nothing.
    c.send(`IAMAT kiwi +1+1 99\n`);
    assert.match(await c.line(), /^AT Clark .* kiwi \+1\+1 99$/);
    const j = await connect(herd.port('Johnson'));
    j.send('WHATSAT kiwi 10 1\n');
    assert.equal(await j.line(), at);
    await j.answerUntilBlank();
    // Equal times at two servers: everyone settles on the larger line.
    const b = await connect(herd.port('Bernard'));
    c.send('IAMAT tie +1+1 200\n');
    b.send('IAMAT tie +1+1 200\n');
    const l1 = await c.line();
    const l2 = await b.line();
    const larger = Buffer.compare(Buffer.from(l1), Buffer.from(l2)) > 0 ? l1 : l2;
    assert.ok(await eventually(() => Object.keys(FIVE).every((n) => herd.kept(n, 'tie') === larger)));
    c.close();
    j.close();
    b.close();
  } finally {
    await herd.stop();
  }
});

test('a restarted server catches up; garbage on a link closes it', async () => {
  const herd = await startHerd({ A: ['B'], B: [] }, 'peer_garbage_lines = 3');
  try {
    assert.ok(await eventually(herd.linked));
    await herd.kill('B');
    const a = await connect(herd.port('A'));
    a.send('IAMAT while-down +1+1 5\n');
    const at = await a.line();
    await herd.start('B');
    assert.ok(await eventually(() => herd.kept('B', 'while-down') === at, 3000));
    // With A gone (its link to B dead), a fake A sends garbage: closed
    // after 3 invalid lines.
    await herd.kill('A');
    assert.ok(await eventually(() => !herd.nodes.B.node.inbound.has('A')));
    const fake = await connect(herd.port('B'));
    fake.send('PEER A\nHELLO\nAT x\n\xff\n');
    assert.ok(await fake.closedWithin(2000));
    a.close();
  } finally {
    await herd.stop();
  }
  const log = fs.readFileSync(`${herd.logDir}/B.log`, 'utf8');
  assert.match(log, /link from A \(127\.0\.0\.1:\d+\) down: 3 invalid lines/);
  assert.match(fs.readFileSync(`${herd.logDir}/A.log`, 'utf8'), /catch-up to B: 1 clients sent/);
});

test('queue overflow drops updates and forces a catch-up that carries them', async () => {
  const herd = await startHerd({ A: ['B'], B: [] }, 'peer_queue = 5');
  try {
    assert.ok(await eventually(herd.linked));
    await herd.kill('B');
    const a = await connect(herd.port('A'));
    let text = '';
    for (let i = 0; i < 50; i++) text += `IAMAT c${i} +1+1 ${i}\n`;
    a.send(text);
    for (let i = 0; i < 50; i++) await a.line();
    assert.ok(herd.nodes.A.node.flooder.queued('B') <= 5);
    await herd.start('B');
    assert.ok(await eventually(() => herd.nodes.B.node.cache.size === 50, 3000));
    a.close();
  } finally {
    await herd.stop();
  }
});

test('stop is prompt with idle and half-sent clients connected', async () => {
  const herd = await startHerd({ Clark: [] });
  const a = await connect(herd.port('Clark'));
  const b = await connect(herd.port('Clark'));
  b.send('IAMAT half');
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  await herd.stop();
  assert.ok(Date.now() - started < 2000);
  assert.ok(await a.closedWithin(1000));
  assert.ok(await b.closedWithin(1000));
  assert.match(fs.readFileSync(`${herd.logDir}/Clark.log`, 'utf8'), /Clark stopped in \d+ ms/);
});

test('exact nanoseconds with a fixed clock', async () => {
  const herd = await startHerd({ Clark: [] }, '', { clock: () => 1621464828223371889n });
  try {
    const c = await connect(herd.port('Clark'));
    c.send('IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503\n');
    assert.equal(await c.line(), 'AT Clark +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503');
    c.send('IAMAT k2 +0+0 1621464829\n');
    assert.equal(await c.line(), 'AT Clark -0.776628111 k2 +0+0 1621464829');
    c.close();
  } finally {
    await herd.stop();
  }
});
