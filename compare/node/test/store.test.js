'use strict';
// Durable stores (PROTOCOL §8) are the Rust builds' alone: this build reads
// [store] and other servers' store_dir, and refuses a store of its own
// before any port opens. Real bin/herd.js processes on free ports.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { parseConfig } = require('../lib/config');
const { connect } = require('./helpers');
const { freePort, spawnSolo } = require('./proc');

const BIN = path.join(__dirname, '..', 'bin', 'herd.js');

const refusal = (what) =>
  `herd: Solo: this build keeps its cache in memory only; ${what} needs the blocking or tokio build (PROTOCOL §8)\n`;

/** A temporary directory; herd.toml is `head`, Solo on `port` (+ `solo`), Other (+ `other`). */
async function herdDir(t, port, { head = '', solo = '', other = '' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herd-node-store-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'herd.toml');
  fs.writeFileSync(
    config,
    `${head}\n[[server]]\nname = "Solo"\naddr = "127.0.0.1:${port}"\n${solo}\n` +
      `[[server]]\nname = "Other"\naddr = "127.0.0.1:${await freePort()}"\n${other}\n`,
  );
  return { dir, config, logs: path.join(dir, 'logs') };
}

/** Runs node Solo to its end (killed after 10 s): {status, stdout, stderr}. */
function run(herd, ...flags) {
  const r = spawnSync(process.execPath, [BIN, 'node', 'Solo', '--config', herd.config, '--log-dir', herd.logs, ...flags], {
    timeout: 10000,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** A listening socket on a port the kernel picked: {port, close()}. */
function holdPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve({ port: s.address().port, close: () => new Promise((r) => s.close(r)) }));
  });
}

/** True when a connection to `port` is refused (nothing listens there). */
function refusedAt(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e) => resolve(e.code === 'ECONNREFUSED'));
  });
}

for (const [what, solo, flags] of [
  ['--store-dir', '', ['--store-dir', 'store']],
  ['store_dir in its [[server]] table', 'store_dir = "store"', []],
]) {
  test(`a store of its own (${what}) is refused before the port opens`, async (t) => {
    // The test holds the node's port: a node that got as far as listening
    // would exit 1 ("cannot listen"), so exit 2 with the refusal shows the
    // refusal comes first.
    const held = await holdPort();
    let herd;
    try {
      herd = await herdDir(t, held.port, { solo });
      assert.deepEqual(run(herd, ...flags), { status: 2, stdout: '', stderr: refusal(what) });
    } finally {
      await held.close();
    }
    assert.ok(!fs.existsSync(herd.logs), 'a refused node wrote no log');
    // And with the port free: still refused, and nothing listens there.
    const port = await freePort();
    const free = await herdDir(t, port, { solo });
    assert.deepEqual(run(free, ...flags), { status: 2, stdout: '', stderr: refusal(what) });
    assert.ok(await refusedAt(port), 'nothing listens on the refused node\'s port');
    assert.ok(!fs.existsSync(path.join(free.dir, 'store')), 'no store directory was made');
  });
}

test('[store] sync and another server\'s store_dir: the node starts and answers an IAMAT', async (t) => {
  const otherPort = await freePort();
  const solo = await spawnSolo(t, {
    toml: `[store]\nsync = "never"\n[[server]]\nname = "Other"\naddr = "127.0.0.1:${otherPort}"\nstore_dir = "/var/lib/herd/Other"\n`,
    args: ['--store-sync', 'always'],
  });
  const client = await connect(solo.port);
  t.after(() => client.close());
  const sent = `${Math.floor(Date.now() / 1000)}.000000000`;
  client.send(`IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 ${sent}\n`);
  const line = await client.line(5000);
  assert.match(line, new RegExp(`^AT Solo [+-]\\d+\\.\\d{9} kiwi\\.cs\\.ucla\\.edu \\+34\\.068930-118\\.445127 ${sent.replace('.', '\\.')}$`));
  assert.ok(solo.alive());
});

test('a bad [store] setting or --store-sync word is a config error: exit 2, one line', async (t) => {
  const port = await freePort();
  for (const [head, flags, line] of [
    ['[store]\nsync = "sometimes"', [], (h) => `config ${h.config}: [store] sync "sometimes" is unknown (use "always", "everysec" or "never")`],
    ['[store]\nsync = "never"\ndir = "x"', [], (h) => `config ${h.config}: [store]: unknown field \`dir\`, expected \`sync\``],
    ['[store]\nsync = 1', [], (h) => `config ${h.config}: [store] sync: invalid type: integer \`1\`, expected a string`],
    ['', ['--store-sync', 'sometimes'], () => "invalid value 'sometimes' for '--store-sync <MODE>': \"sometimes\" is not always, everysec or never"],
    ['', ['--store-sync='], () => "invalid value '' for '--store-sync <MODE>': \"\" is not always, everysec or never"],
    ['', ['--store-dir'], () => "a value is required for '--store-dir' but none was supplied"],
  ]) {
    const herd = await herdDir(t, port, { head });
    assert.deepEqual(run(herd, ...flags), { status: 2, stdout: '', stderr: `herd: ${line(herd)}\n` }, head + flags.join(' '));
    assert.ok(!fs.existsSync(herd.logs));
  }
  const empty = await herdDir(t, port, { other: 'store_dir = ""' });
  assert.deepEqual(run(empty), { status: 2, stdout: '', stderr: `herd: config ${empty.config}: server "Other": store_dir is empty\n` });
});

test('[store] sync: default everysec, the file, and --store-sync beating it', () => {
  const one = '[[server]]\nname = "A"\naddr = "127.0.0.1:1"\n';
  const other = '[[server]]\nname = "B"\naddr = "127.0.0.1:2"\nstore_dir = "b"\n';
  assert.equal(parseConfig(one).storeSync, 'everysec');
  const config = parseConfig(`[store]\nsync = "never"\n${one}${other}`);
  assert.equal(config.storeSync, 'never');
  assert.deepEqual(config.servers.map((s) => s.storeDir), [null, 'b']);
  assert.equal(parseConfig(`[store]\nsync = "never"\n${one}`, { storeSync: 'always' }).storeSync, 'always');
});

test('--help lists --store-dir and --store-sync, one line each', () => {
  const usage = spawnSync(process.execPath, [BIN, '--help'], { timeout: 10000 }).stdout.toString().split('\n');
  const dir = usage.filter((l) => l.trimStart().startsWith('--store-dir'));
  const sync = usage.filter((l) => l.trimStart().startsWith('--store-sync'));
  assert.equal(dir.length, 1);
  assert.match(dir[0], /Not supported in this build/);
  assert.equal(sync.length, 1);
  assert.match(sync[0], /no effect in this build/);
});
