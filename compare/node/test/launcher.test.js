'use strict';
// The launcher `herd-node` puts HERD_NODE_V8_FLAGS on node's command line
// (for V8 flags NODE_OPTIONS refuses, such as --trace-gc) and nothing when
// it is unset or empty. Runs the real launcher as a real
// process and reads the command line Node was exec'd with from /proc
// (Linux only; skipped elsewhere).

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { eventually } = require('./helpers');
const { freePort } = require('./proc');

const LAUNCHER = path.join(__dirname, '..', 'herd-node');
const linux = fs.existsSync('/proc/self/cmdline');


/** Starts one node through the launcher (`overrides`: environment
 * variables, undefined = unset); returns Node's argv once it listens. */
async function launchedArgv(overrides) {
  const env = { ...process.env, ...overrides };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herd-node-launcher-'));
  const port = await freePort();
  const config = path.join(dir, 'herd.toml');
  fs.writeFileSync(config, `[[server]]\nname = "Solo"\naddr = "127.0.0.1:${port}"\npeers = []\n`);
  const child = spawn(LAUNCHER, ['node', 'Solo', '--config', config, '--log-dir', dir], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    const listening = await eventually(() => stderr.includes('listening on'), 10000);
    assert.ok(listening, `no "listening on" within 10 s; stderr: ${stderr}`);
    // exec: the launcher's pid is now Node's.
    return fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } finally {
    child.kill('SIGTERM');
    let timer;
    const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 5000)))]);
    clearTimeout(timer);
    if (code === 'timeout') child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the launcher adds no V8 flags unless HERD_NODE_V8_FLAGS says so', { skip: !linux && 'needs /proc' }, async () => {
  for (const unset of [undefined, '']) {
    const argv = await launchedArgv({ HERD_NODE_V8_FLAGS: unset });
    assert.ok(argv[1].endsWith(path.join('bin', 'herd.js')), `no flags: ${argv.join(' ')}`);
  }
});

test('HERD_NODE_V8_FLAGS goes on node\'s command line, before the script', { skip: !linux && 'needs /proc' }, async () => {
  const own = await launchedArgv({ HERD_NODE_V8_FLAGS: '--max-semi-space-size=8 --stack-size=900' });
  assert.deepEqual(own.slice(1, 3), ['--max-semi-space-size=8', '--stack-size=900']);
  assert.ok(own[3].endsWith(path.join('bin', 'herd.js')), own.join(' '));
});
