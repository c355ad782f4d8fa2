'use strict';
// The command line of bin/herd.js, read by util.parseArgs: these pin what
// users see where parseArgs alone would behave differently (unknown flags,
// missing values, bad or negative numbers, `--flag=value`, words starting
// with `-`, a positional too many). Each case runs the real bin/herd.js as
// a child process and checks the exit code and the one `herd: ` line on
// stderr. A bad command line exits 2 before any port opens; the servers in
// the configs here sit on ports the kernel picked, never fixed ones.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { eventually } = require('./helpers');
const { freePort } = require('./proc');

const BIN = path.join(__dirname, '..', 'bin', 'herd.js');


/** A temporary directory with herd.toml naming one server, Solo. */
async function soloHerd(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herd-node-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'herd.toml');
  fs.writeFileSync(config, `[[server]]\nname = "Solo"\naddr = "127.0.0.1:${await freePort()}"\npeers = []\n`);
  return { dir, config, logs: path.join(dir, 'logs') };
}

/** Runs bin/herd.js to its end (killed after 10 s): {status, stdout, stderr}. */
function herd(args) {
  const run = spawnSync(process.execPath, [BIN, ...args], { timeout: 10000, killSignal: 'SIGKILL' });
  return { status: run.status, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

/** Each [args, line]: exit 2, nothing on stdout, `herd: line` on stderr, no log. */
function refused(solo, cases) {
  for (const [args, line] of cases) {
    const run = herd(args);
    assert.deepEqual(run, { status: 2, stdout: '', stderr: `herd: ${line}\n` }, JSON.stringify(args));
  }
  assert.ok(!fs.existsSync(solo.logs), 'a refused command line wrote no log');
}

test('an unknown flag is refused, with or without =value', async (t) => {
  const solo = await soloHerd(t);
  const base = ['node', 'Solo', '--config', solo.config, '--log-dir', solo.logs];
  refused(solo, [
    [[...base, '--bogus'], "unexpected argument '--bogus' found"],
    [[...base, '--bogus=1'], "unexpected argument '--bogus' found"],
    [[...base, '--bogus', '1'], "unexpected argument '--bogus' found"],
    [[...base, '--THREADS', '1'], "unexpected argument '--THREADS' found"],
    // The flag is named up to the first `=`, so `--=x` is the flag `--`.
    [[...base, '--=x'], "unexpected argument '--' found"],
    [[...base, '---x=3'], "unexpected argument '---x' found"],
    // --help takes no value.
    [[...base, '--help=yes'], "unexpected argument '--help' found"],
    // Names of Object.prototype are no flags either.
    [[...base, '--constructor', '1'], "unexpected argument '--constructor' found"],
  ]);
});

test('a flag at the end without its value is refused', async (t) => {
  const solo = await soloHerd(t);
  const base = ['node', 'Solo', '--config', solo.config, '--log-dir', solo.logs];
  refused(solo, [
    [[...base, '--threads'], "a value is required for '--threads' but none was supplied"],
    [[...base, '--config'], "a value is required for '--config' but none was supplied"],
    [['node', 'Solo', '--config', solo.config, '--log-dir'], "a value is required for '--log-dir' but none was supplied"],
  ]);
});

test('numbers must be whole and in range, a leading + allowed, negatives refused', async (t) => {
  const solo = await soloHerd(t);
  const base = ['node', 'Solo', '--config', solo.config, '--log-dir', solo.logs];
  refused(solo, [
    [[...base, '--threads', 'abc'], "invalid value 'abc' for '--threads <N>': not a whole number in range"],
    // A value that starts with `-` is still the flag's value (parseArgs in
    // strict mode would call it ambiguous), and no whole number.
    [[...base, '--threads', '-5'], "invalid value '-5' for '--threads <N>': not a whole number in range"],
    [[...base, '--idle-timeout-ms', '1.5'], "invalid value '1.5' for '--idle-timeout-ms <MS>': not a whole number in range"],
    [[...base, '--max-line-bytes', ' 5'], "invalid value ' 5' for '--max-line-bytes <BYTES>': not a whole number in range"],
    [[...base, '--peer-garbage-lines', '4294967296'], "invalid value '4294967296' for '--peer-garbage-lines <N>': not a whole number in range"],
    [[...base, '--peer-queue', '18446744073709551616'], "invalid value '18446744073709551616' for '--peer-queue <N>': not a whole number in range"],
    // A flag that takes a value takes the next word, even one like a flag.
    [[...base, '--places-timeout-ms', '--threads', '5'], "invalid value '--threads' for '--places-timeout-ms <MS>': not a whole number in range"],
  ]);
  // In range for the command line; the config's checks come next.
  refused(solo, [
    [[...base, '--threads', '+0'], `config ${solo.config}: [limits] threads must be more than 0`],
    [[...base, '--peer-garbage-lines', '4294967295', '--threads', '4097'], `config ${solo.config}: [limits] threads must be at most 4096`],
  ]);
});

test('--flag=value is the same as --flag value', async (t) => {
  const solo = await soloHerd(t);
  refused(solo, [
    [['node', 'Solo', `--config=${solo.config}`, `--log-dir=${solo.logs}`, '--threads=abc'],
      "invalid value 'abc' for '--threads <N>': not a whole number in range"],
    [['node', 'Solo', `--config=${solo.config}`, `--log-dir=${solo.logs}`, '--threads='],
      "invalid value '' for '--threads <N>': not a whole number in range"],
    [['node', 'Solo', `--config=${solo.config}`, `--log-dir=${solo.logs}`, '--threads=-5'],
      "invalid value '-5' for '--threads <N>': not a whole number in range"],
    // Both values reach the config, which finds them out of order.
    [['node', 'Solo', `--config=${solo.config}`, `--log-dir=${solo.logs}`, '--reconnect-min-ms=500', '--reconnect-max-ms=+400'],
      `config ${solo.config}: [limits] reconnect_max_ms must be at least reconnect_min_ms`],
    // Everything after the first `=` is the value.
    [['node', 'Solo', `--config=${solo.config}`, `--log-dir=${solo.logs}`, '--threads=5=6'],
      "invalid value '5=6' for '--threads <N>': not a whole number in range"],
  ]);
  const missing = path.join(solo.dir, 'missing.toml');
  const run = herd(['node', 'Solo', `--config=${missing}`]);
  assert.equal(run.status, 2);
  assert.match(run.stderr, new RegExp(`^herd: cannot read config ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT[^\n]*\n$`));
});

test('a positional too many, or a missing or unknown subcommand, is refused', async (t) => {
  const solo = await soloHerd(t);
  const flags = ['--config', solo.config, '--log-dir', solo.logs];
  refused(solo, [
    [['node', 'Solo', 'extra', ...flags], "unexpected argument 'extra' found"],
    [['node', 'Solo', ...flags, 'extra', 'more'], "unexpected argument 'extra' found"],
    [['config', 'extra'], "unexpected argument 'extra' found"],
    [['node', ...flags], 'the following required arguments were not provided: <NAME>'],
    [[...flags], 'a subcommand is required (node, config)'],
    [[], 'a subcommand is required (node, config)'],
    [['frob', ...flags], "unrecognized subcommand 'frob'"],
  ]);
});

test('words that start with one - are positionals; only -h is a short flag', async (t) => {
  const solo = await soloHerd(t);
  const flags = ['--config', solo.config, '--log-dir', solo.logs];
  refused(solo, [
    [['node', 'Solo', '-x', ...flags], "unexpected argument '-x' found"],
    [['node', 'Solo', '-hx', ...flags], "unexpected argument '-hx' found"],
    [['node', 'Solo', '-5', ...flags], "unexpected argument '-5' found"],
    [['node', 'Solo', '-', ...flags], "unexpected argument '-' found"],
    // parseArgs would split `-a-b` into -a, -- and -b, turning --bogus into a positional.
    [['node', '-a-b', '--bogus', ...flags], "unexpected argument '--bogus' found"],
    [['node', '-a-b', ...flags], 'unknown server "-a-b" (servers: Solo)'],
    // A value may start with -.
    [['node', 'Solo', '--config', solo.config, '--log-dir', '-d', '--threads', '0'], `config ${solo.config}: [limits] threads must be more than 0`],
    // After -- every word is a positional.
    [['node', ...flags, '--', '--bogus'], 'unknown server "--bogus" (servers: Solo)'],
    [['node', 'Solo', ...flags, '--', '-h'], "unexpected argument '-h' found"],
  ]);
});

test('the first bad word is the one reported; a repeated flag is checked each time, the last one wins', async (t) => {
  const solo = await soloHerd(t);
  const base = ['node', 'Solo', '--config', solo.config, '--log-dir', solo.logs];
  refused(solo, [
    [[...base, '--threads', 'x', '--bogus'], "invalid value 'x' for '--threads <N>': not a whole number in range"],
    [[...base, '--bogus', '--threads', 'x'], "unexpected argument '--bogus' found"],
    [[...base, '--bogus', '--help'], "unexpected argument '--bogus' found"],
    [['node', 'Solo', 'extra', '--bogus'], "unexpected argument '--bogus' found"],
    [[...base, '--threads', 'x', '--threads', '5'], "invalid value 'x' for '--threads <N>': not a whole number in range"],
    [[...base, '--threads', '5', '--threads', '5000'], `config ${solo.config}: [limits] threads must be at most 4096`],
  ]);
});

test('-h and --help print the usage and exit 0, wherever they come first', () => {
  const usage = herd(['--help']);
  assert.equal(usage.status, 0);
  assert.match(usage.stdout, /^Usage: herd-node node NAME \[OPTIONS\]\n/);
  assert.equal(usage.stderr, '');
  for (const args of [['-h'], ['node', 'Solo', '-h'], ['frob', 'a', 'b', '--help', '--bogus'], ['--config', '-h', '--help'], ['--threads', '5', '-h']]) {
    assert.deepEqual(herd(args), usage, JSON.stringify(args));
  }
});

test('a node started with --flag=value forms runs with those values', async (t) => {
  const solo = await soloHerd(t);
  const child = spawn(process.execPath, [BIN, 'node', 'Solo', `--config=${solo.config}`, `--log-dir=${solo.logs}`, '--threads=+7'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    assert.ok(await eventually(() => stderr.includes('\n'), 10000), `no start notice within 10 s; stderr: ${stderr}`);
    assert.match(stderr, /^herd-node: Solo listening on 127\.0\.0\.1:\d+, one event loop \(--threads 7 accepted, unused\), log /);
    assert.ok(stderr.endsWith(`log ${path.join(solo.logs, 'Solo.log')}\n`), stderr);
    child.kill('SIGTERM');
    let timer;
    const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 5000)))]);
    clearTimeout(timer);
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('the issue 13 flags: 0 and --log-keep 0 are config errors, --log-answers takes no value', async (t) => {
  const solo = await soloHerd(t);
  const base = ['node', 'Solo', '--config', solo.config, '--log-dir', solo.logs];
  refused(solo, [
    [[...base, '--write-timeout-ms', '0'], `config ${solo.config}: [limits] write_timeout_ms must be more than 0`],
    [[...base, '--max-clock-ahead-ms', '0'], `config ${solo.config}: [limits] max_clock_ahead_ms must be more than 0`],
    [[...base, '--max-cached-clients', '0'], `config ${solo.config}: [limits] max_cached_clients must be more than 0`],
    [[...base, '--log-keep', '0'], `config ${solo.config}: [log] keep must be more than 0`],
    [[...base, '--log-max-bytes', 'x'], "invalid value 'x' for '--log-max-bytes <BYTES>': not a whole number in range"],
    [[...base, '--log-answers=yes'], "unexpected value 'yes' for '--log-answers' found; no more were expected"],
  ]);
});
