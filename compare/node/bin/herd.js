#!/usr/bin/env node
'use strict';
// The `herd-node` command line: reads arguments (node:util's parseArgs),
// loads the config, and runs one node (PROTOCOL §6), or prints the default
// config. Errors leave here as one line on stderr and an exit code: 2 for a
// bad command line or config (before any port is opened), 1 for a failure
// while running (a port in use). The cache lives in memory only: a durable
// store (--store-dir, or store_dir in the node's own [[server]] table) is
// refused with exit 2 before any port opens (PROTOCOL §8).

const path = require('node:path');
const v8 = require('node:v8');
const { parseArgs } = require('node:util');
const config = require('../lib/config');
const { fromConfig } = require('../lib/places');
const { listen, startNode, serverAddr } = require('../lib/server');

const USAGE = `Usage: herd-node node NAME [OPTIONS]
       herd-node config

Run one server of the herd (the Node.js build: one event loop).

Options:
      --config <FILE>             Herd config (TOML); without it, the default herd on 127.0.0.1:12331-12335
      --threads <N>               Accepted for the common command line and logged; Node runs one loop [default: 128]
      --log-dir <DIR>             Where <NAME>.log is written (created if missing) [default: logs]
      --max-line-bytes <BYTES>    Longest line in bytes [default: 65536]
      --idle-timeout-ms <MS>      Close a client that completes no line for this long [default: 60000]
      --max-clients <N>           Client connections open at once [default: 1024]
      --write-timeout-ms <MS>     Close a client that has not taken a whole answer this long after its first byte [default: 10000]
      --reconnect-min-ms <MS>     First neighbour reconnect wait [default: 100]
      --reconnect-max-ms <MS>     Longest neighbour reconnect wait [default: 2000]
      --peer-garbage-lines <N>    Invalid lines before a neighbour's link is closed [default: 10]
      --peer-queue <N>            Updates queued per neighbour [default: 10000]
      --handshake-timeout-ms <MS> Longest wait for each peer handshake line [default: 5000]
      --park-idle-ms <MS>         Accepted and ignored (the blocking build's pool) [default: 100]
      --places-timeout-ms <MS>    How long a WHATSAT waits for Places [default: 5000]
      --max-clock-ahead-ms <MS>   Refuse an IAMAT whose time is further ahead of ours [default: 60000]
      --max-cached-clients <N>    Client ids kept; the oldest client time is evicted [default: 1000000]
      --log-max-bytes <BYTES>     Rotate <NAME>.log before it passes this size; 0: never [default: 0]
      --log-keep <N>              Rotated files kept, <NAME>.log.1 to .N [default: 5]
      --log-answers               Log WHATSAT answers whole, not as a summary entry
      --store-dir <DIR>           Not supported in this build (cache in memory only): refused, exit 2
      --store-sync <MODE>         always, everysec or never: checked, no effect in this build (no store)
  -h, --help                      Print help
`;

/** Number flag -> [override field, value name, max]. */
const NUMBER_FLAGS = {
  threads: ['threads', 'N', 2 ** 64],
  'max-line-bytes': ['maxLineBytes', 'BYTES', 2 ** 64],
  'idle-timeout-ms': ['idleTimeoutMs', 'MS', 2 ** 64],
  'max-clients': ['maxClients', 'N', 2 ** 64],
  'write-timeout-ms': ['writeTimeoutMs', 'MS', 2 ** 64],
  'reconnect-min-ms': ['reconnectMinMs', 'MS', 2 ** 64],
  'reconnect-max-ms': ['reconnectMaxMs', 'MS', 2 ** 64],
  'peer-garbage-lines': ['peerGarbageLines', 'N', 2 ** 32],
  'peer-queue': ['peerQueue', 'N', 2 ** 64],
  'handshake-timeout-ms': ['handshakeTimeoutMs', 'MS', 2 ** 64],
  'park-idle-ms': ['parkIdleMs', 'MS', 2 ** 64],
  'places-timeout-ms': ['placesTimeoutMs', 'MS', 2 ** 64],
  'max-clock-ahead-ms': ['maxClockAheadMs', 'MS', 2 ** 64],
  'max-cached-clients': ['maxCachedClients', 'N', 2 ** 64],
  'log-max-bytes': ['logMaxBytes', 'BYTES', 2 ** 64],
  'log-keep': ['logKeep', 'N', 2 ** 64],
};

/** The flags as util.parseArgs is told them: all take a value but -h/--help. */
const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'log-answers': { type: 'boolean' },
  config: { type: 'string' },
  'log-dir': { type: 'string' },
  'store-dir': { type: 'string' },
  'store-sync': { type: 'string' },
  ...Object.fromEntries(Object.keys(NUMBER_FLAGS).map((name) => [name, { type: 'string' }])),
};

class UsageError extends Error {}

/**
 * A word util.parseArgs would read as short options: `-x`, or `-xy` as a
 * group (and `-a-b` as -a, -- and -b, after which its token indexes are
 * off by one). This command line's only short flag is -h; any other word
 * that starts with one `-` has always been a positional or a flag's value
 * (a NAME may start with `-`). parseArgs gets '' in its place, which it
 * takes for a positional or a value like any plain word, and the word is
 * read back from argv by the token's index.
 */
const hiddenWord = (word) => /^-[^-]/.test(word) && word !== '-h';

/**
 * argv -> {help: true} or {command, name, configFile, logDir, overrides}.
 * util.parseArgs splits the words (`--flag value`, `--flag=value`, `--`);
 * its tokens are then read in order so that the first bad word is the one
 * reported, as before. strict is off: strict mode would refuse a value
 * that starts with `-` (`--threads -5` is a bad number, `--log-dir -d` a
 * directory) and word its errors its own way.
 */
function parseCommandLine(argv) {
  const args = { command: null, name: null, configFile: null, logDir: 'logs', storeDir: null, overrides: {} };
  const { tokens } = parseArgs({
    args: argv.map((word) => (hiddenWord(word) ? '' : word)),
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const positional = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positional.push(argv[token.index]);
      continue;
    }
    // The flag as typed, up to any `=`: `--=x` is the unknown flag `--`.
    const flag = argv[token.index].split('=')[0];
    if (token.name === 'help' && token.value === undefined) return { help: true };
    if (token.name === 'log-answers') {
      if (token.value !== undefined) {
        throw new UsageError(`unexpected value '${token.value}' for '${flag}' found; no more were expected`);
      }
      args.overrides.logAnswers = true;
      continue;
    }
    if (token.name === 'help' || !Object.hasOwn(OPTIONS, token.name)) {
      throw new UsageError(`unexpected argument '${flag}' found`);
    }
    if (token.value === undefined) throw new UsageError(`a value is required for '${flag}' but none was supplied`);
    const value = token.inlineValue ? token.value : argv[token.index + 1];
    if (token.name === 'config') args.configFile = value;
    else if (token.name === 'log-dir') args.logDir = value;
    else if (token.name === 'store-dir') args.storeDir = value;
    else if (token.name === 'store-sync') {
      if (!config.SYNC_MODES.includes(value)) {
        throw new UsageError(`invalid value '${value}' for '${flag} <MODE>': ${JSON.stringify(value)} is not always, everysec or never`);
      }
      args.overrides.storeSync = value;
    } else {
      const [field, valueName, max] = NUMBER_FLAGS[token.name];
      if (!/^\+?[0-9]+$/.test(value) || Number(value.replace('+', '')) >= max) {
        throw new UsageError(`invalid value '${value}' for '${flag} <${valueName}>': not a whole number in range`);
      }
      args.overrides[field] = Number(value.replace('+', ''));
    }
  }
  args.command = positional.shift() || null;
  if (args.command === 'node') {
    args.name = positional.shift();
    if (args.name === undefined) throw new UsageError('the following required arguments were not provided: <NAME>');
  }
  if (positional.length) throw new UsageError(`unexpected argument '${positional[0]}' found`);
  if (args.command !== 'node' && args.command !== 'config') {
    throw new UsageError(args.command ? `unrecognized subcommand '${args.command}'` : 'a subcommand is required (node, config)');
  }
  return args;
}

/**
 * Heap bytes allowed per cached client id: the cache measured 184-193
 * bytes per id (tools/cache-bytes.js, README "Memory"), with room for the
 * garbage an IAMAT makes on its way in.
 */
const HEAP_BYTES_PER_ID = 300;

/**
 * How many ids fit V8's heap, so that `max_cached_clients` is always
 * reached before the heap limit (which would abort the process and lose
 * the cache): what the heap may still grow by, less a quarter of its limit
 * and 16 MiB for everything else (connections, queues, answers), over
 * HEAP_BYTES_PER_ID.
 */
function idsThatFit() {
  const heap = v8.getHeapStatistics();
  const room = heap.heap_size_limit - heap.used_heap_size - heap.heap_size_limit / 4 - 16 * 2 ** 20;
  return Math.max(1, Math.floor(room / HEAP_BYTES_PER_ID));
}

function fail(message, code) {
  process.stderr.write(`herd: ${message}\n`);
  process.exit(code);
}

async function main() {
  let args;
  try {
    args = parseCommandLine(process.argv.slice(2));
  } catch (e) {
    fail(e.message, 2);
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (args.command === 'config') {
    process.stdout.write(config.defaultConfigText());
    return;
  }
  // Everything that can be wrong with the config is found before a port opens.
  let herd;
  let places;
  let secret;
  try {
    herd = args.configFile
      ? config.loadConfig(args.configFile, args.overrides)
      : config.parseConfig(config.defaultConfigText(), args.overrides);
    const me = config.serverOf(herd, args.name);
    // No durable store in this build (PROTOCOL §8): refused before anything opens.
    if (args.storeDir !== null) throw config.memoryOnly(me.name, '--store-dir');
    if (me.storeDir !== null) throw config.memoryOnly(me.name, 'store_dir in its [[server]] table');
    secret = config.readSecret(herd);
    const warn = (text) => process.stderr.write(`herd-node: ${text}\n`);
    places = fromConfig(herd.places, process.env.PLACES_API_KEY, warn);
  } catch (e) {
    fail(String(e.message).split('\n')[0], 2);
  }
  const me = config.serverOf(herd, args.name);
  // Signals are caught before the port opens: from the moment a client can
  // see the node, SIGINT/SIGTERM mean a clean stop.
  let handle = null;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // Whatever happens, the process is gone within 2 s.
    setTimeout(() => process.exit(0), 1800).unref();
    if (handle) await handle.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // SIGHUP reopens the log (PROTOCOL §4, for logrotate); it never stops the node.
  process.on('SIGHUP', () => {
    if (handle) handle.node.log.reopen();
  });
  let server;
  try {
    server = await listen(me.addr);
  } catch (e) {
    fail(`${me.name}: cannot listen on ${me.addr}: ${e.message}`, 1);
  }
  // The bound must be reached before the heap limit: lowered (and said so)
  // when V8's heap is too small for it (see the launcher's HERD_NODE_V8_FLAGS).
  const fit = idsThatFit();
  const maxCachedClients = Math.min(herd.limits.maxCachedClients, fit);
  const lowered =
    maxCachedClients < herd.limits.maxCachedClients
      ? `max_cached_clients ${herd.limits.maxCachedClients} does not fit V8's heap ` +
        `(${Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20)} MiB); keeping at most ${maxCachedClients} ` +
        '(raise it with HERD_NODE_V8_FLAGS=--max-old-space-size=MIB)'
      : null;
  if (lowered) process.stderr.write(`herd-node: ${lowered}\n`);
  try {
    handle = startNode(herd, { name: args.name, server, places, logDir: args.logDir, secret, maxCachedClients });
    if (lowered) handle.node.log.notice(lowered);
  } catch (e) {
    fail(`${args.name}: cannot start: ${e.message}`, 1);
  }
  process.stderr.write(
    `herd-node: ${args.name} listening on ${serverAddr(server)}, one event loop ` +
      `(--threads ${herd.limits.threads} accepted, unused), log ${path.join(args.logDir, `${args.name}.log`)}\n`,
  );
  if (stopping) await handle.stop();
}

main();
