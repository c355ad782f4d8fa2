#!/usr/bin/env node
'use strict';
// The `herd-node` command line: parses arguments, loads the config, and runs
// one node (PROTOCOL §6), or prints the default config. Errors leave here as
// one line on stderr and an exit code: 2 for a bad command line or config
// (before any port is opened), 1 for a failure while running (a port in use).

const path = require('node:path');
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
      --write-timeout-ms <MS>     Close a client that does not take an answer for this long [default: 10000]
      --reconnect-min-ms <MS>     First neighbour reconnect wait [default: 100]
      --reconnect-max-ms <MS>     Longest neighbour reconnect wait [default: 2000]
      --peer-garbage-lines <N>    Invalid lines before a neighbour's link is closed [default: 10]
      --peer-queue <N>            Updates queued per neighbour [default: 10000]
      --handshake-timeout-ms <MS> Longest wait for each peer handshake line [default: 5000]
      --places-timeout-ms <MS>    How long a WHATSAT waits for Places [default: 5000]
  -h, --help                      Print help
`;

/** flag -> [override field, value name, max]. */
const FLAGS = {
  '--threads': ['threads', 'N', 2 ** 64],
  '--max-line-bytes': ['maxLineBytes', 'BYTES', 2 ** 64],
  '--idle-timeout-ms': ['idleTimeoutMs', 'MS', 2 ** 64],
  '--max-clients': ['maxClients', 'N', 2 ** 64],
  '--write-timeout-ms': ['writeTimeoutMs', 'MS', 2 ** 64],
  '--reconnect-min-ms': ['reconnectMinMs', 'MS', 2 ** 64],
  '--reconnect-max-ms': ['reconnectMaxMs', 'MS', 2 ** 64],
  '--peer-garbage-lines': ['peerGarbageLines', 'N', 2 ** 32],
  '--peer-queue': ['peerQueue', 'N', 2 ** 64],
  '--handshake-timeout-ms': ['handshakeTimeoutMs', 'MS', 2 ** 64],
  '--places-timeout-ms': ['placesTimeoutMs', 'MS', 2 ** 64],
};

class UsageError extends Error {}

function parseArgs(argv) {
  const args = { command: null, name: null, configFile: null, logDir: 'logs', overrides: {} };
  const rest = [...argv];
  const positional = [];
  while (rest.length) {
    let arg = rest.shift();
    if (arg === '-h' || arg === '--help') return { help: true };
    if (arg === '--') {
      positional.push(...rest.splice(0));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      positional.push(arg);
      continue;
    }
    let value;
    const eq = arg.indexOf('=');
    if (eq >= 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const known = arg === '--config' || arg === '--log-dir' || FLAGS[arg];
    if (!known) throw new UsageError(`unexpected argument '${arg}' found`);
    if (value === undefined) {
      if (!rest.length) throw new UsageError(`a value is required for '${arg}' but none was supplied`);
      value = rest.shift();
    }
    if (arg === '--config') args.configFile = value;
    else if (arg === '--log-dir') args.logDir = value;
    else {
      const [field, valueName, max] = FLAGS[arg];
      if (!/^\+?[0-9]+$/.test(value) || Number(value.replace('+', '')) >= max) {
        throw new UsageError(`invalid value '${value}' for '${arg} <${valueName}>': not a whole number in range`);
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

function fail(message, code) {
  process.stderr.write(`herd: ${message}\n`);
  process.exit(code);
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
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
    config.serverOf(herd, args.name);
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
  let server;
  try {
    server = await listen(me.addr);
  } catch (e) {
    fail(`${me.name}: cannot listen on ${me.addr}: ${e.message}`, 1);
  }
  try {
    handle = startNode(herd, { name: args.name, server, places, logDir: args.logDir, secret });
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
