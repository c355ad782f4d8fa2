'use strict';
// Authenticated peer links (PROTOCOL §7): the test vector, the handshake
// against nodes in this process on kernel-picked ports, and herd-node
// processes for the config error and the secret never showing.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const auth = require('../lib/peer_auth');
const { parseConfig, readSecret } = require('../lib/config');
const { startHerd, connect, eventually } = require('./helpers');

const NOW = () => (Date.now() / 1000).toFixed(9);
const SECRET = Buffer.from('correct horse battery staple');
const NONCE_O = '0123456789abcdef0123456789abcdef';
const BIN = path.join(__dirname, '..', 'bin', 'herd.js');

/** One request on a fresh connection; every answer line until the server closes. */
async function ask(port, text) {
  const c = await connect(port);
  c.send(text);
  c.socket.end();
  const lines = [];
  for (;;) {
    const l = await c.line(3000);
    if (l === null) break;
    lines.push(l);
  }
  c.close();
  return lines;
}

test('the PROTOCOL §7 test vector, and only lowercase 64-digit hex matches', () => {
  const nonceA = 'fedcba9876543210fedcba9876543210';
  const p = auth.proof(Buffer.from('s3cret'), 'Clark', 'Jaquez', NONCE_O, nonceA);
  const w = auth.welcome(Buffer.from('s3cret'), 'Jaquez', 'Clark', nonceA, NONCE_O);
  assert.equal(p, 'f1db1357d5bc2504b23185348dfad00427eb3b94de04cc3dbf9f23f4cd2ec1c5');
  assert.equal(w, '331a9ac7f4601041ca798c5cea263c380d22d6bd11900d73354b09c98d1ce67a');
  assert.ok(auth.matches(p, p));
  assert.ok(!auth.matches(p, p.toUpperCase()));
  assert.ok(!auth.matches(p, p.slice(0, -1)));
  assert.ok(!auth.matches(p, w));
});

test('nonces and handshake lines', () => {
  const a = auth.newNonce();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, auth.newNonce());
  assert.ok(auth.validNonce(NONCE_O.toUpperCase()));
  for (const bad of ['', NONCE_O.slice(1), `${NONCE_O}0`, 'g'.repeat(32)]) assert.ok(!auth.validNonce(bad), bad);
  assert.deepEqual(auth.hello(Buffer.from(`\tPEER  Clark\x0b${NONCE_O} `)), { name: 'Clark', nonce: NONCE_O });
  assert.equal(auth.hello(Buffer.from('PEER Clark')), null);
  assert.equal(auth.hello(Buffer.from(`PEER Clark ${NONCE_O} x`)), null);
  assert.equal(auth.hello(Buffer.from([0x50, 0x45, 0x45, 0x52, 0x20, 0xff, 0x20, 0x41])), null);
  assert.equal(auth.operand(Buffer.from('PROOF abc'), 'PROOF'), 'abc');
  assert.equal(auth.operand(Buffer.from('PROOF abc'), 'WELCOME'), null);
  assert.equal(auth.operand(Buffer.from('PROOF'), 'PROOF'), null);
});

test('the secret is the variable\'s bytes; unset or empty is a config error', () => {
  const cfg = parseConfig('[herd]\nsecret_env = "HS"\n[[server]]\nname = "A"\naddr = "127.0.0.1:1"\n');
  assert.equal(cfg.limits.handshakeTimeoutMs, 5000);
  assert.deepEqual(readSecret(cfg, { HS: 'k\u00e9y' }), Buffer.from('k\u00e9y'));
  for (const env of [{}, { HS: '' }]) {
    assert.throws(() => readSecret(cfg, env), {
      message: '[herd] secret_env: the environment variable HS is not set or is empty',
    });
  }
  assert.equal(readSecret(parseConfig('[[server]]\nname = "A"\naddr = "127.0.0.1:1"\n'), {}), null);
});

/** Plays the opener up to PROOF; returns {c, nonceA, proof}. */
async function opener(port, secret, me, acceptor, nonceO = NONCE_O) {
  const c = await connect(port);
  c.send(`PEER ${me} ${nonceO}\n`);
  const challenge = await c.line();
  assert.match(challenge, /^CHALLENGE [0-9a-f]{32}$/);
  const nonceA = challenge.split(' ')[1];
  const proof = auth.proof(secret, me, acceptor, nonceO, nonceA);
  c.send(`PROOF ${proof}\n`);
  return { c, nonceA, proof };
}

test('nodes with the same secret link and flood', async () => {
  const herd = await startHerd({ A: ['B'], B: ['C'], C: [] }, '', { secrets: { A: SECRET, B: SECRET, C: SECRET } });
  try {
    const [at] = await ask(herd.port('A'), `IAMAT kiwi +34.068930-118.445127 ${NOW()}\n`);
    assert.match(at, /^AT A /);
    assert.ok(await eventually(() => herd.kept('C', 'kiwi') === at));
    const log = herd.logText('B');
    for (const word of ['CHALLENGE ', 'PROOF ', 'WELCOME ', 'link to C (', 'link from A (']) assert.ok(log.includes(word), word);
    assert.ok(!log.includes('refused: wrong') && !log.includes('refused: expected'));
  } finally {
    await herd.stop();
  }
});

test('a node with a wrong secret is refused both ways, logged, and never gets the update', async () => {
  const herd = await startHerd({ A: ['B'], B: ['C'], C: [] }, '',
    { secrets: { A: SECRET, B: SECRET, C: Buffer.from('not the secret') } });
  const count = (name, text) => herd.logText(name).split(text).length - 1;
  try {
    const [at] = await ask(herd.port('A'), `IAMAT kiwi +1+1 ${NOW()}\n`);
    assert.ok(await eventually(() => herd.kept('B', 'kiwi') === at));
    // B has kiwi now: two more refused attempts each way since then.
    const b0 = count('B', 'refused: wrong proof');
    const c0 = count('C', 'refused: wrong proof');
    assert.ok(await eventually(() => count('B', 'refused: wrong proof') >= b0 + 2 && count('C', 'refused: wrong proof') >= c0 + 2));
    assert.equal(herd.kept('C', 'kiwi'), null);
    assert.deepEqual(await ask(herd.port('C'), 'WHATSAT kiwi 1 1\n'), ['? WHATSAT kiwi 1 1']);
    const b = herd.logText('B');
    const c = herd.logText('C');
    assert.ok(b.includes('link from C (') && b.includes('link to C (') && b.includes('refused: expected WELCOME, got "? PROOF '));
    assert.ok(c.includes('link from B (') && c.includes('link to B ('));
    assert.deepEqual(c.split('\n').filter((l) => l.endsWith(') up')), []);
    assert.deepEqual(b.split('\n').filter((l) => l.endsWith(') up') && l.includes(' C (')), []);
  } finally {
    await herd.stop();
  }
});

test('a bare PEER, a stranger, a bad nonce and a malformed hello are refused and closed', async () => {
  const herd = await startHerd({ A: ['B'], B: [] }, '', { secrets: { A: SECRET, B: SECRET } });
  try {
    const port = herd.port('A');
    assert.deepEqual(await ask(port, 'PEER B\nAT B +0.1 x +1+1 1\n'), ['? PEER B']);
    assert.deepEqual(await ask(port, `PEER Nobody ${NONCE_O}\n`), [`? PEER Nobody ${NONCE_O}`]);
    assert.deepEqual(await ask(port, 'PEER B 0123\n'), ['? PEER B 0123']);
    assert.deepEqual(await ask(port, `PEER B ${NONCE_O} extra\n`), [`? PEER B ${NONCE_O} extra`]);
    const c = await connect(port);
    c.send(`HELLO\nPEER B ${NONCE_O}\n`);
    assert.equal(await c.line(), '? HELLO');
    assert.equal(await c.line(), `? PEER B ${NONCE_O}`);
    assert.ok(!(await c.closedWithin(100))); // a later PEER is just a bad line
    c.close();
    const log = herd.logText('A');
    for (const why of ['link from B (127.0.0.1:', 'refused: no nonce (a bare PEER)', 'link from Nobody (',
      'refused: not a neighbour', 'refused: bad nonce', 'refused: malformed PEER line']) {
      assert.ok(await eventually(() => herd.logText('A').includes(why)), `${why} not in ${log}`);
    }
  } finally {
    await herd.stop();
  }
});

test('without a secret, PEER with a nonce is a bad line', async () => {
  const herd = await startHerd({ A: ['B'], B: [] });
  try {
    assert.deepEqual(await ask(herd.port('A'), `PEER B ${NONCE_O}\n`), [`? PEER B ${NONCE_O}`]);
  } finally {
    await herd.stop();
  }
});

test('a good exchange works; its PROOF replayed on a new connection is refused', async () => {
  const herd = await startHerd({ A: ['B'], B: [] }, '', { secrets: { A: SECRET, B: SECRET } });
  try {
    await herd.kill('B'); // the test plays B
    const port = herd.port('A');
    const { c, nonceA, proof } = await opener(port, SECRET, 'B', 'A');
    assert.equal(await c.line(), `WELCOME ${auth.welcome(SECRET, 'A', 'B', nonceA, NONCE_O)}`);
    c.send(`AT B +0.000000000 authed +1+1 ${NOW()}\n`);
    assert.ok(await eventually(() => herd.kept('A', 'authed') !== null));
    const replay = await connect(port);
    replay.send(`PEER B ${NONCE_O}\n`);
    const challenge = await replay.line();
    assert.match(challenge, /^CHALLENGE /);
    assert.notEqual(challenge.split(' ')[1], nonceA);
    replay.send(`PROOF ${proof}\n`);
    assert.equal(await replay.line(), `? PROOF ${proof}`);
    assert.ok(await replay.closedWithin(2000));
    assert.ok(await eventually(() => herd.logText('A').includes('refused: wrong proof')));
    // The refused connection did not replace the good link.
    c.send(`AT B +0.000000000 still-up +1+1 ${NOW()}\n`);
    assert.ok(await eventually(() => herd.kept('A', 'still-up') !== null));
    c.close();
    replay.close();
  } finally {
    await herd.stop();
  }
});

test('a line that is not PROOF, and a silent opener, are refused', async () => {
  const herd = await startHerd({ A: ['B'], B: [] }, 'handshake_timeout_ms = 300', { secrets: { A: SECRET, B: SECRET } });
  try {
    await herd.kill('B');
    const port = herd.port('A');
    const c = await connect(port);
    c.send(`PEER B ${NONCE_O}\n`);
    assert.match(await c.line(), /^CHALLENGE /);
    c.send(`AT B +0.000000000 sneaky +1+1 ${NOW()}\n`);
    assert.match(await c.line(), /^\? AT B /);
    assert.ok(await c.closedWithin(2000));
    c.close();
    const silent = await connect(port);
    silent.send(`PEER B ${NONCE_O}\n`);
    assert.match(await silent.line(), /^CHALLENGE /);
    const started = Date.now();
    assert.ok(await silent.closedWithin(3000));
    assert.ok(Date.now() - started >= 200);
    silent.close();
    assert.ok(await eventually(() => herd.logText('A').includes('refused: expected PROOF')
      && herd.logText('A').includes('refused: no PROOF within 300 ms')));
    assert.equal(herd.kept('A', 'sneaky'), null);
  } finally {
    await herd.stop();
  }
});

test('the opener drops a wrong WELCOME and sends no AT lines', async () => {
  const herd = await startHerd({ A: ['B'], B: [] }, '', { secrets: { A: SECRET, B: SECRET } });
  const port = herd.port('B');
  await herd.kill('B');
  const got = [];
  const fake = net.createServer((s) => {
    let buf = '';
    s.on('error', () => {});
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\n') && !s.challenged) {
        s.challenged = true;
        s.write(`CHALLENGE ${NONCE_O}\nWELCOME ${'0'.repeat(64)}\n`);
      }
    });
    s.on('close', () => got.push(buf));
  });
  try {
    await new Promise((r) => fake.listen(port, '127.0.0.1', r));
    assert.ok(await eventually(() => herd.logText('A').includes('refused: wrong WELCOME') && got.length > 0));
    assert.match(got[0], /^PEER A [0-9a-f]{32}\nPROOF [0-9a-f]{64}\n$/);
    assert.ok(herd.logText('A').includes(`link to B (127.0.0.1:${port}) refused: wrong WELCOME`));
  } finally {
    fake.close();
    await herd.stop();
  }
});

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

test('herd-node: an unset or empty secret variable is one line and exit 2', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herd-node-auth-'));
  const cfg = path.join(dir, 'herd.toml');
  fs.writeFileSync(cfg, `[herd]\nsecret_env = "HERD_TEST_SECRET"\n[[server]]\nname = "A"\naddr = "127.0.0.1:${await freePort()}"\n`);
  for (const value of [undefined, '']) {
    const env = { ...process.env };
    delete env.HERD_TEST_SECRET;
    if (value !== undefined) env.HERD_TEST_SECRET = value;
    const run = spawnSync(process.execPath, [BIN, 'node', 'A', '--config', cfg, '--log-dir', dir], { env, timeout: 20000 });
    assert.equal(run.status, 2);
    assert.equal(run.stderr.toString(), 'herd: [herd] secret_env: the environment variable HERD_TEST_SECRET is not set or is empty\n');
    assert.equal(run.stdout.length, 0);
  }
  assert.ok(!fs.existsSync(path.join(dir, 'A.log')));
});

test('herd-node processes with one secret link, and the secret never shows', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herd-node-auth-'));
  const secret = `s3cret-${auth.newNonce()}`;
  const ports = { A: await freePort(), B: await freePort() };
  const cfg = path.join(dir, 'herd.toml');
  fs.writeFileSync(cfg, '[herd]\nsecret_env = "HERD_TEST_SECRET"\n'
    + `[[server]]\nname = "A"\naddr = "127.0.0.1:${ports.A}"\npeers = ["B"]\n`
    + `[[server]]\nname = "B"\naddr = "127.0.0.1:${ports.B}"\n`);
  const env = { ...process.env, HERD_TEST_SECRET: secret };
  const procs = {};
  const output = { A: '', B: '' };
  for (const name of ['A', 'B']) {
    const p = spawn(process.execPath, [BIN, 'node', name, '--config', cfg, '--log-dir', dir, '--handshake-timeout-ms', '2000'], { env });
    p.stdout.on('data', (d) => (output[name] += d));
    p.stderr.on('data', (d) => (output[name] += d));
    p.exited = new Promise((r) => p.on('exit', (code) => r(code)));
    procs[name] = p;
  }
  const tryAsk = async (name, text) => {
    try {
      return await ask(ports[name], text);
    } catch {
      return [];
    }
  };
  try {
    assert.ok(await eventually(async () => (await tryAsk('A', 'HELLO\n'))[0] === '? HELLO'
      && (await tryAsk('B', 'HELLO\n'))[0] === '? HELLO', 20000));
    const [at] = await ask(ports.A, `IAMAT kiwi +1+1 ${NOW()}\n`);
    assert.match(at, /^AT A /);
    assert.ok(await eventually(async () => (await tryAsk('B', 'WHATSAT kiwi 1 1\n'))[0] === at, 10000));
    for (const p of Object.values(procs)) p.kill('SIGTERM');
    for (const p of Object.values(procs)) {
      const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 5000))]);
      assert.equal(code, 0);
    }
  } finally {
    for (const p of Object.values(procs)) if (p.exitCode === null) p.kill('SIGKILL');
  }
  const logs = ['A', 'B'].map((n) => fs.readFileSync(path.join(dir, `${n}.log`), 'utf8'));
  assert.ok(logs[0].includes('WELCOME ') && logs[1].includes('PROOF '));
  for (const text of [...logs, output.A, output.B]) assert.ok(!text.includes(secret));
});

test('with a secret, a second PEER that proves the name replaces a live link', async () => {
  const herd = await startHerd({ A: ['B'], B: [] }, '', { secrets: { A: SECRET, B: SECRET } });
  try {
    assert.ok(await eventually(herd.linked));
    const live = herd.nodes.B.node.inbound.get('A');
    assert.ok(live && live.alive());
    // The test plays a second A, with the secret: the handshake proves the name.
    const { c, nonceA } = await opener(herd.port('B'), SECRET, 'A', 'B');
    assert.equal(await c.line(), `WELCOME ${auth.welcome(SECRET, 'B', 'A', nonceA, NONCE_O)}`);
    assert.ok(await eventually(() => herd.nodes.B.node.inbound.get('A') !== live));
    assert.ok(!live.alive(), 'the old link is closed');
    c.send(`AT A +0.000000000 proved +1+1 ${NOW()}\n`);
    assert.ok(await eventually(() => herd.kept('B', 'proved') !== null));
    assert.match(herd.logText('B'), /link from A: the new link replaces the old one/);
    c.close();
  } finally {
    await herd.stop();
  }
});
