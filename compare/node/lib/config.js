'use strict';
// The herd's configuration: herd.toml, the default herd, and every limit.
//
// Input: TOML text (a file, or DEFAULT_CONFIG when no --config is given,
// the same text as src/default_herd.toml) plus command-line overrides.
// Output: a validated config with links made symmetric. Every check of
// src/config.rs happens here, before any port is opened, and every failure
// is one line of text (a ConfigError); bin/herd.js prints it as
// `herd: <line>` and exits 2.

const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const TOML = require('smol-toml');

class ConfigError extends Error {}

/** The default herd of PROTOCOL §1: the very file the Rust build embeds. */
const DEFAULT_CONFIG_PATH = path.join(__dirname, '..', '..', '..', 'src', 'default_herd.toml');

/** The default five-server herd, should the Rust sources not sit beside us. */
const DEFAULT_CONFIG_FALLBACK = `[places]
provider = "offline"
timeout_ms = 5000

[[server]]
name = "Bernard"
addr = "127.0.0.1:12331"
peers = ["Jaquez", "Johnson", "Juzang"]

[[server]]
name = "Clark"
addr = "127.0.0.1:12332"
peers = ["Jaquez", "Juzang"]

[[server]]
name = "Jaquez"
addr = "127.0.0.1:12333"
peers = ["Bernard", "Clark"]

[[server]]
name = "Johnson"
addr = "127.0.0.1:12334"
peers = ["Bernard", "Juzang"]

[[server]]
name = "Juzang"
addr = "127.0.0.1:12335"
peers = ["Bernard", "Clark", "Johnson"]
`;

function defaultConfigText() {
  try {
    return fs.readFileSync(DEFAULT_CONFIG_PATH, 'utf8');
  } catch {
    return DEFAULT_CONFIG_FALLBACK;
  }
}

/**
 * Every limit of PROTOCOL §5 with its default (the Limits table of the
 * README). Times are in milliseconds.
 * - threads: accepted for the common command line, logged, unused (one loop).
 * - maxLineBytes: longer lines get `? ` + first 1 KiB, connection closed.
 * - idleTimeoutMs: no complete line this long after we start waiting: closed.
 * - maxClients: client connections open at once; more are closed at once.
 * - writeTimeoutMs: a client that does not take an answer this long: closed.
 * - reconnectMinMs / reconnectMaxMs: neighbour backoff, doubling.
 * - peerGarbageLines: invalid lines before a neighbour's link is closed.
 * - peerQueue: updates queued per neighbour; overflow forces a catch-up.
 * - handshakeTimeoutMs: the longest wait for each peer handshake line (§7).
 * - parkIdleMs: the blocking build parks quiet clients off its worker pool
 *   after this long; an event loop has no pool: accepted and ignored.
 * - maxClockAheadMs: an IAMAT whose time is more than this ahead of the
 *   server's clock is answered `? ` and changes nothing.
 * - maxCachedClients: client ids kept; a new id at a full cache evicts the
 *   oldest client time (or is dropped when it is older than every one).
 * writeTimeoutMs counts from an answer's first byte, for the whole answer.
 */
const DEFAULT_LIMITS = Object.freeze({
  threads: 128,
  maxLineBytes: 64 * 1024,
  idleTimeoutMs: 60000,
  maxClients: 1024,
  writeTimeoutMs: 10000,
  reconnectMinMs: 100,
  reconnectMaxMs: 2000,
  peerGarbageLines: 10,
  peerQueue: 10000,
  handshakeTimeoutMs: 5000,
  parkIdleMs: 100,
  maxClockAheadMs: 60000,
  maxCachedClients: 1000000,
});

/** The [log] table's defaults: size rotation off, five old files, summaries. */
const DEFAULT_LOG = Object.freeze({ maxBytes: 0, keep: 5, answers: false });

/**
 * `[store] sync` (PROTOCOL §8): what an IAMAT answer promises where a server
 * has a durable store. Checked as the Rust builds check it; a node of this
 * build never has a store (see memoryOnly), so the mode changes nothing.
 */
const SYNC_MODES = Object.freeze(['always', 'everysec', 'never']);
const DEFAULT_SYNC = 'everysec';

/** TOML key (and flag stem) -> field of the limits object, with its type. */
const LIMIT_KEYS = {
  threads: ['threads', 'usize'],
  max_line_bytes: ['maxLineBytes', 'usize'],
  idle_timeout_ms: ['idleTimeoutMs', 'u64'],
  max_clients: ['maxClients', 'usize'],
  write_timeout_ms: ['writeTimeoutMs', 'u64'],
  reconnect_min_ms: ['reconnectMinMs', 'u64'],
  reconnect_max_ms: ['reconnectMaxMs', 'u64'],
  peer_garbage_lines: ['peerGarbageLines', 'u32'],
  peer_queue: ['peerQueue', 'usize'],
  handshake_timeout_ms: ['handshakeTimeoutMs', 'u64'],
  park_idle_ms: ['parkIdleMs', 'u64'],
  max_clock_ahead_ms: ['maxClockAheadMs', 'u64'],
  max_cached_clients: ['maxCachedClients', 'usize'],
};

const MAX = { u32: 2n ** 32n - 1n, u64: 2n ** 64n - 1n, usize: 2n ** 64n - 1n };

function describeValue(value) {
  if (typeof value === 'bigint') return `integer \`${value}\``;
  if (typeof value === 'number') return `floating point \`${value}\``;
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'boolean') return `boolean \`${value}\``;
  if (Array.isArray(value)) return 'sequence';
  if (value instanceof Date || (value && typeof value === 'object' && 'isDate' in value)) return 'datetime';
  return 'map';
}

function isTable(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) && describeValue(value) === 'map';
}

/** An unsigned integer of `type`, as a Number (checked against the type). */
function unsigned(where, value, type) {
  if (typeof value !== 'bigint') {
    throw new ConfigError(`${where}: invalid type: ${describeValue(value)}, expected ${type}`);
  }
  if (value < 0n || value > MAX[type]) {
    throw new ConfigError(`${where}: invalid value: integer \`${value}\`, expected ${type}`);
  }
  return Number(value);
}

function string(where, value) {
  if (typeof value !== 'string') {
    throw new ConfigError(`${where}: invalid type: ${describeValue(value)}, expected a string`);
  }
  return value;
}

function table(where, value, allowed) {
  if (!isTable(value)) throw new ConfigError(`${where}: invalid type: ${describeValue(value)}, expected a table`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new ConfigError(
        `${where}: unknown field \`${key}\`, expected ${allowed.map((k) => `\`${k}\``).join(', ')}`,
      );
    }
  }
  return value;
}

/**
 * Parses and validates TOML text. `overrides` holds command-line values in
 * the limits' field names (and placesTimeoutMs); a flag beats the file.
 */
function parseConfig(text, overrides = {}) {
  let raw;
  try {
    raw = TOML.parse(text, { integersAsBigInt: true });
  } catch (e) {
    const first = String(e.message).split('\n')[0].replace(/^Invalid TOML document: /, '');
    if (e.line) throw new ConfigError(`line ${e.line}, column ${e.column}: ${first}`);
    throw new ConfigError(first);
  }
  table('config', raw, ['places', 'server', 'herd', 'limits', 'log', 'store']);
  const herd = raw.herd === undefined ? {} : table('[herd]', raw.herd, ['secret_env']);
  const secretEnv = herd.secret_env === undefined ? null : string('[herd] secret_env', herd.secret_env);
  const places = placesConfig(raw.places === undefined ? {} : table('[places]', raw.places, ['provider', 'url', 'timeout_ms']), overrides);
  const limits = limitsConfig(raw.limits === undefined ? {} : table('[limits]', raw.limits, Object.keys(LIMIT_KEYS)), overrides);
  const log = logConfig(raw.log === undefined ? {} : table('[log]', raw.log, ['max_bytes', 'keep', 'answers']), overrides);
  let rawServers = raw.server === undefined ? [] : raw.server;
  if (!Array.isArray(rawServers)) {
    throw new ConfigError(`server: invalid type: ${describeValue(rawServers)}, expected a sequence`);
  }
  const storeSync = storeSyncConfig(raw.store === undefined ? {} : table('[store]', raw.store, ['sync']), overrides);
  const servers = serversConfig(rawServers.map((s, i) => table(`[[server]] #${i + 1}`, s, ['name', 'addr', 'peers', 'store_dir'])));
  return { places, servers, limits, secretEnv, log, storeSync };
}

/**
 * `[store] sync`, one of SYNC_MODES (default everysec); the flag (override
 * storeSync, its word checked by the command line) beats the file.
 */
function storeSyncConfig(raw, overrides) {
  const word = raw.sync === undefined ? undefined : string('[store] sync', raw.sync);
  if (overrides.storeSync !== undefined) return overrides.storeSync;
  if (word === undefined) return DEFAULT_SYNC;
  if (!SYNC_MODES.includes(word)) {
    throw new ConfigError(`[store] sync ${JSON.stringify(word)} is unknown (use "always", "everysec" or "never")`);
  }
  return word;
}

/**
 * The refusal of a durable store (PROTOCOL §8) for server `name`: `what` is
 * `--store-dir` or `store_dir in its [[server]] table`.
 */
function memoryOnly(name, what) {
  return new ConfigError(
    `${name}: this build keeps its cache in memory only; ${what} needs the blocking or tokio build (PROTOCOL §8)`,
  );
}

/**
 * The [log] table (PROTOCOL §4): max_bytes (0: no size rotation), keep (old
 * files kept, at least 1), answers (log WHATSAT answers whole). Flags
 * (overrides logMaxBytes, logKeep, logAnswers) beat the file.
 */
function logConfig(raw, overrides) {
  const log = { ...DEFAULT_LOG };
  if (overrides.logMaxBytes !== undefined) log.maxBytes = overrides.logMaxBytes;
  else if (raw.max_bytes !== undefined) log.maxBytes = unsigned('[log] max_bytes', raw.max_bytes, 'u64');
  if (overrides.logKeep !== undefined) log.keep = overrides.logKeep;
  else if (raw.keep !== undefined) log.keep = unsigned('[log] keep', raw.keep, 'usize');
  if (overrides.logAnswers) log.answers = true;
  else if (raw.answers !== undefined) {
    if (typeof raw.answers !== 'boolean') {
      throw new ConfigError(`[log] answers: invalid type: ${describeValue(raw.answers)}, expected a boolean`);
    }
    log.answers = raw.answers;
  }
  if (log.keep === 0) throw new ConfigError('[log] keep must be more than 0');
  return log;
}

/**
 * The herd secret (PROTOCOL §7): the bytes of the environment variable
 * `[herd] secret_env` names, or null when the config names none. Unset or
 * empty is a ConfigError naming the variable, never a value.
 */
function readSecret(config, env = process.env) {
  if (config.secretEnv === null || config.secretEnv === undefined) return null;
  const value = Object.prototype.hasOwnProperty.call(env, config.secretEnv) ? env[config.secretEnv] : undefined;
  if (typeof value !== 'string' || value === '') {
    throw new ConfigError(`[herd] secret_env: the environment variable ${config.secretEnv} is not set or is empty`);
  }
  return Buffer.from(value);
}

function placesConfig(raw, overrides) {
  const provider = raw.provider === undefined ? 'offline' : string('[places] provider', raw.provider);
  if (!['offline', 'google', 'google-new'].includes(provider)) {
    throw new ConfigError(
      `[places] provider ${JSON.stringify(provider)} is unknown (use "offline", "google" or "google-new")`,
    );
  }
  let url = null;
  if (raw.url !== undefined) {
    url = string('[places] url', raw.url);
    if (!(url.startsWith('http://') || url.startsWith('https://')) || url.includes(' ')) {
      throw new ConfigError(`[places] url ${JSON.stringify(url)} is not an http(s) URL`);
    }
  }
  let timeoutMs = 5000;
  if (overrides.placesTimeoutMs !== undefined) timeoutMs = overrides.placesTimeoutMs;
  else if (raw.timeout_ms !== undefined) timeoutMs = unsigned('[places] timeout_ms', raw.timeout_ms, 'u64');
  if (timeoutMs === 0) throw new ConfigError('[places] timeout_ms must be more than 0');
  return { provider, url, timeoutMs };
}

function limitsConfig(raw, overrides) {
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, [field, type]] of Object.entries(LIMIT_KEYS)) {
    if (overrides[field] !== undefined) limits[field] = overrides[field];
    else if (raw[key] !== undefined) limits[field] = unsigned(`[limits] ${key}`, raw[key], type);
  }
  for (const [key, [field]] of Object.entries(LIMIT_KEYS)) {
    // park_idle_ms = 0 means "never park" (the blocking build's pool).
    if (key === 'reconnect_max_ms' || key === 'park_idle_ms') continue;
    if (limits[field] === 0) throw new ConfigError(`[limits] ${key} must be more than 0`);
  }
  if (limits.threads > 4096) throw new ConfigError('[limits] threads must be at most 4096');
  if (limits.reconnectMaxMs < limits.reconnectMinMs) {
    throw new ConfigError('[limits] reconnect_max_ms must be at least reconnect_min_ms');
  }
  return limits;
}

function serversConfig(raw) {
  if (raw.length === 0) throw new ConfigError('no [[server]] entries');
  const names = new Set();
  const addrs = new Set();
  const parsed = raw.map((s, i) => {
    if (s.name === undefined) throw new ConfigError(`[[server]] #${i + 1}: missing field \`name\``);
    const name = string(`[[server]] #${i + 1} name`, s.name);
    if (s.addr === undefined) throw new ConfigError(`[[server]] #${i + 1}: missing field \`addr\``);
    const addr = string(`[[server]] #${i + 1} addr`, s.addr);
    let peers = [];
    if (s.peers !== undefined) {
      if (!Array.isArray(s.peers)) {
        throw new ConfigError(`[[server]] #${i + 1} peers: invalid type: ${describeValue(s.peers)}, expected a sequence`);
      }
      peers = s.peers.map((p) => string(`[[server]] #${i + 1} peers`, p));
    }
    // Another server's durable store (PROTOCOL §8); this build has none.
    const storeDir = s.store_dir === undefined ? null : string(`[[server]] #${i + 1} store_dir`, s.store_dir);
    return { name, addr, peers, storeDir };
  });
  for (const server of parsed) {
    checkName(server.name);
    if (names.has(server.name)) throw new ConfigError(`server ${JSON.stringify(server.name)} is named twice`);
    names.add(server.name);
    checkAddr(server.name, server.addr);
    if (server.storeDir === '') throw new ConfigError(`server ${JSON.stringify(server.name)}: store_dir is empty`);
    if (addrs.has(server.addr)) throw new ConfigError(`address ${JSON.stringify(server.addr)} is used twice`);
    addrs.add(server.addr);
  }
  // Links are bidirectional: a link named on either side is a link.
  const links = new Map(parsed.map((s) => [s.name, new Set()]));
  for (const server of parsed) {
    for (const peer of server.peers) {
      if (!names.has(peer)) {
        throw new ConfigError(`server ${JSON.stringify(server.name)}: peer ${JSON.stringify(peer)} is not a server`);
      }
      if (peer === server.name) throw new ConfigError(`server ${JSON.stringify(server.name)} names itself as a peer`);
      links.get(server.name).add(peer);
      links.get(peer).add(server.name);
    }
  }
  // Sorted as Rust's BTreeSet sorts: by UTF-8 bytes.
  const byBytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  return parsed.map((s) => ({ name: s.name, addr: s.addr, peers: [...links.get(s.name)].sort(byBytes), storeDir: s.storeDir }));
}

/** A server name is one protocol field: non-empty, no white space or control. */
function checkName(name) {
  if (name === '' || /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u.test(name)) {
    throw new ConfigError(`server name ${JSON.stringify(name)} must be non-empty with no white space`);
  }
}

/** `host:port` or `[v6]:port`, port 1 to 65535. */
function checkAddr(name, addr) {
  const bad = () => new ConfigError(`server ${JSON.stringify(name)}: address ${JSON.stringify(addr)} is not host:port`);
  const colon = addr.lastIndexOf(':');
  if (colon < 0) throw bad();
  const host = addr.slice(0, colon);
  const port = addr.slice(colon + 1);
  let hostOk;
  if (host.startsWith('[') && host.endsWith(']') && host.length >= 2) {
    hostOk = net.isIPv6(host.slice(1, -1));
  } else {
    hostOk = host !== '' && /^[A-Za-z0-9._-]+$/.test(host);
  }
  // Rust's u16 parse: digits with an optional leading `+`.
  if (!/^\+?[0-9]+$/.test(port)) throw bad();
  const n = Number(port.replace('+', ''));
  if (!(n > 0 && n <= 65535) || !hostOk) throw bad();
}

/** The server called `name`, or a ConfigError naming the servers there are. */
function serverOf(config, name) {
  const server = config.servers.find((s) => s.name === name);
  if (!server) {
    throw new ConfigError(`unknown server ${JSON.stringify(name)} (servers: ${config.servers.map((s) => s.name).join(', ')})`);
  }
  return server;
}

/** Reads and validates a config file; errors name the file. */
function loadConfig(file, overrides) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${e.message}`);
  }
  try {
    return parseConfig(text, overrides);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`config ${file}: ${e.message}`);
    throw e;
  }
}

/** Splits `host:port` / `[v6]:port` for net.listen / net.connect. */
function splitAddr(addr) {
  const colon = addr.lastIndexOf(':');
  let host = addr.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(addr.slice(colon + 1).replace('+', '')) };
}

module.exports = {
  ConfigError,
  DEFAULT_LIMITS,
  DEFAULT_LOG,
  LIMIT_KEYS,
  SYNC_MODES,
  DEFAULT_SYNC,
  memoryOnly,
  defaultConfigText,
  parseConfig,
  loadConfig,
  serverOf,
  splitAddr,
  readSecret,
};
