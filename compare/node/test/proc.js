'use strict';
// Test support: one node run as a real process (bin/herd.js, or with V8
// flags such as --max-old-space-size on node's command line), on a port the
// kernel picked, in a temporary directory that is removed afterwards.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { eventually } = require('./helpers');

const BIN = path.join(__dirname, '..', 'bin', 'herd.js');

/** A port the kernel has just handed out (bound on 0, then released). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts node Solo of a one-server herd as a process. options: {toml (extra
 * config text, before [[server]]), args (more command-line words), v8 (node
 * flags), env}. Resolves once it listens: {child, port, dir, logPath,
 * stderr(), alive(), stop()}. Registers its own clean-up with `t`.
 */
async function spawnSolo(t, options = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herd-node-proc-'));
  const port = await freePort();
  const config = path.join(dir, 'herd.toml');
  fs.writeFileSync(config, `${options.toml || ''}\n[[server]]\nname = "Solo"\naddr = "127.0.0.1:${port}"\npeers = []\n`);
  const logs = path.join(dir, 'logs');
  const child = spawn(
    process.execPath,
    [...(options.v8 || []), BIN, 'node', 'Solo', '--config', config, '--log-dir', logs, ...(options.args || [])],
    { env: { ...process.env, ...(options.env || {}) }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  let exit = null;
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exit = { code, signal }))));
  const proc = {
    child,
    port,
    dir,
    logPath: path.join(logs, 'Solo.log'),
    stderr: () => stderr,
    alive: () => exit === null,
    exit: () => exit,
    async stop() {
      if (exit === null) child.kill('SIGKILL');
      await exited;
    },
  };
  t.after(async () => {
    await proc.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const up = await eventually(() => stderr.includes('listening on') || exit !== null, 15000);
  if (!up || exit !== null) throw new Error(`node did not start: ${JSON.stringify(exit)} ${stderr}`);
  return proc;
}

module.exports = { spawnSolo, freePort };
