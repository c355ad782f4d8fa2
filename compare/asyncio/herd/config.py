"""The herd's configuration: servers, Places, limits; all validation before
any port opens (src/config.rs, src/default_herd.toml).

Same TOML keys, defaults and error messages as the Rust build; the default
herd is read from the Rust crate's own ``src/default_herd.toml`` text
(a copy is kept here so that the package runs on its own).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace

DEFAULT_CONFIG_PATH = os.path.join(os.path.dirname(__file__), "default_herd.toml")


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class ServerConfig:
    name: str
    addr: str
    peers: tuple[str, ...]
    # Where that server keeps a durable store (PROTOCOL §8). Accepted for
    # the other servers of a mixed herd; this build refuses a store of its
    # own (``memory_only``).
    store_dir: str | None = None


@dataclass(frozen=True)
class PlacesConfig:
    provider: str  # "offline" | "google" | "google-new"
    url: str | None
    timeout_ms: int


@dataclass(frozen=True)
class Limits:
    threads: int = 128
    max_line_bytes: int = 64 * 1024
    idle_timeout_ms: int = 60_000
    max_clients: int = 1024
    write_timeout_ms: int = 10_000
    reconnect_min_ms: int = 100
    reconnect_max_ms: int = 2000
    peer_garbage_lines: int = 10
    peer_queue: int = 10_000
    handshake_timeout_ms: int = 5000
    # An IAMAT whose time is more than this ahead of the server's clock is
    # invalid (PROTOCOL §5).
    max_clock_ahead_ms: int = 60_000
    # Clients kept in the cache; past it the oldest is evicted (PROTOCOL §5).
    max_cached_clients: int = 1_000_000
    # The blocking build parks quiet clients off its worker pool after this
    # long; an event loop has no pool, so it is accepted and ignored here.
    park_idle_ms: int = 100


U64 = 2**64 - 1
U32 = 2**32 - 1

_LIMIT_KEYS = {
    "threads": U64,
    "max_line_bytes": U64,
    "idle_timeout_ms": U64,
    "max_clients": U64,
    "write_timeout_ms": U64,
    "reconnect_min_ms": U64,
    "reconnect_max_ms": U64,
    "peer_garbage_lines": U32,
    "peer_queue": U64,
    "handshake_timeout_ms": U64,
    "park_idle_ms": U64,
    "max_clock_ahead_ms": U64,
    "max_cached_clients": U64,
}


@dataclass(frozen=True)
class LogConfig:
    """``[log]`` (PROTOCOL §4): size rotation (0: off) and whole WHATSAT
    answers instead of summary entries."""

    max_bytes: int = 0
    keep: int = 5
    answers: bool = False


_LOG_KEYS = ("max_bytes", "keep", "answers")
_PLACES_KEYS = ("provider", "url", "timeout_ms")
_SERVER_KEYS = ("name", "addr", "peers", "store_dir")
_STORE_KEYS = ("sync",)
_TOP_KEYS = ("places", "server", "herd", "limits", "log", "store")

# ``[store] sync`` (PROTOCOL §8): what an IAMAT answer promises where a
# server has a store. Checked here like the Rust build checks it; a node of
# this build never has a store, so the mode changes nothing.
SYNC_MODES = ("always", "everysec", "never")
DEFAULT_SYNC = "everysec"


@dataclass
class Overrides:
    threads: int | None = None
    max_line_bytes: int | None = None
    idle_timeout_ms: int | None = None
    max_clients: int | None = None
    write_timeout_ms: int | None = None
    reconnect_min_ms: int | None = None
    reconnect_max_ms: int | None = None
    peer_garbage_lines: int | None = None
    peer_queue: int | None = None
    handshake_timeout_ms: int | None = None
    park_idle_ms: int | None = None
    places_timeout_ms: int | None = None
    max_clock_ahead_ms: int | None = None
    max_cached_clients: int | None = None
    log_max_bytes: int | None = None
    log_keep: int | None = None
    log_answers: bool | None = None
    store_sync: str | None = None


@dataclass(frozen=True)
class Config:
    places: PlacesConfig
    servers: tuple[ServerConfig, ...]
    limits: Limits
    # The name of the environment variable holding the herd secret, if any.
    secret_env: str | None = None
    log: LogConfig = field(default_factory=LogConfig)
    store_sync: str = DEFAULT_SYNC

    def server(self, name: str) -> ServerConfig:
        for s in self.servers:
            if s.name == name:
                return s
        names = ", ".join(s.name for s in self.servers)
        raise ConfigError(f"unknown server {rust_debug(name)} (servers: {names})")


def rust_debug(text: str) -> str:
    """A string quoted as Rust's ``{:?}`` writes it."""
    out = ['"']
    for c in text:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\0":
            out.append("\\0")
        elif unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") or (
            c.isspace() and c != " "
        ):
            out.append("\\u{%x}" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def default_text() -> str:
    with open(DEFAULT_CONFIG_PATH, encoding="utf-8") as f:
        return f.read()


def load(path: str | None, overrides: Overrides) -> Config:
    if path is None:
        return parse(default_text(), overrides)
    try:
        with open(path, "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        if isinstance(e, OSError) and e.errno is not None:
            why = f"{why} (os error {e.errno})"
        raise ConfigError(f"cannot read config {path}: {why}") from None
    try:
        return parse(text, overrides)
    except ConfigError as e:
        raise ConfigError(f"config {path}: {e}") from None


def _line_of(text: str, key: str) -> str:
    """'line N, column C: ' for the first ``key =`` in ``text`` (tomllib
    gives no spans for type errors; serde does)."""
    pattern = re.compile(r"^(\s*)" + re.escape(key) + r"\s*=", re.M)
    m = pattern.search(text)
    if not m:
        return ""
    line = text.count("\n", 0, m.start()) + 1
    return f"line {line}, column {len(m.group(1)) + 1}: "


def _unknown(text: str, key: str, expected: tuple[str, ...]) -> ConfigError:
    names = ", ".join(f"`{k}`" for k in expected)
    return ConfigError(f"{_line_of(text, key)}unknown field `{key}`, expected one of {names}")


def _check_table(text: str, table, expected: tuple[str, ...], what: str) -> dict:
    if not isinstance(table, dict):
        raise ConfigError(f"{_line_of(text, what)}invalid type for `{what}`, expected a table")
    for key in table:
        if key not in expected:
            raise _unknown(text, key, expected)
    return table


def _int(text: str, table: dict, key: str, maximum: int) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"{_line_of(text, key)}invalid type: {type(value).__name__} for `{key}`, expected an integer"
        )
    if value < 0 or value > maximum:
        raise ConfigError(f"{_line_of(text, key)}invalid value: integer `{value}` for `{key}`")
    return value


def _str(text: str, table: dict, key: str, required: bool) -> str | None:
    if key not in table:
        if required:
            raise ConfigError(f"missing field `{key}`")
        return None
    value = table[key]
    if not isinstance(value, str):
        raise ConfigError(
            f"{_line_of(text, key)}invalid type: {type(value).__name__} for `{key}`, expected a string"
        )
    return value


def parse(text: str, overrides: Overrides) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e).replace("\n", " ")
        m = re.search(r"\(at line (\d+), column (\d+)\)$", message)
        if m:
            message = f"line {m.group(1)}, column {m.group(2)}: " + message[: m.start()].rstrip()
        raise ConfigError(message) from None
    _check_table(text, raw, _TOP_KEYS, "")
    herd = _check_table(text, raw.get("herd", {}), ("secret_env",), "herd")
    secret_env = _str(text, herd, "secret_env", False)
    places = _places(text, _check_table(text, raw.get("places", {}), _PLACES_KEYS, "places"), overrides)
    limits = _limits(text, _check_table(text, raw.get("limits", {}), tuple(_LIMIT_KEYS), "limits"), overrides)
    servers_raw = raw.get("server", [])
    if not isinstance(servers_raw, list):
        raise ConfigError(f"{_line_of(text, 'server')}invalid type for `server`, expected an array of tables")
    log = _log(text, _check_table(text, raw.get("log", {}), _LOG_KEYS, "log"), overrides)
    store_sync = _store_sync(text, _check_table(text, raw.get("store", {}), _STORE_KEYS, "store"), overrides)
    servers = _servers(text, servers_raw)
    return Config(places, servers, limits, secret_env, log, store_sync)


def _store_sync(text: str, raw: dict, o: Overrides) -> str:
    """``[store] sync``; ``--store-sync`` beats it (the flag's word is
    checked by the command line)."""
    word = _str(text, raw, "sync", False)
    if o.store_sync is not None:
        return o.store_sync
    if word is None:
        return DEFAULT_SYNC
    if word not in SYNC_MODES:
        raise ConfigError(
            f'[store] sync {rust_debug(word)} is unknown (use "always", "everysec" or "never")'
        )
    return word


def memory_only(name: str, what: str) -> ConfigError:
    """The refusal of a store (PROTOCOL §8): ``what`` is ``--store-dir`` or
    ``store_dir in its [[server]] table``."""
    return ConfigError(
        f"{name}: this build keeps its cache in memory only; {what} needs the blocking or "
        "tokio build (PROTOCOL §8)"
    )


def read_secret(config: Config, environ=None) -> bytes | None:
    """The herd secret: the bytes of the variable ``[herd] secret_env``
    names (None when no secret is configured). Unset or empty is a config
    error; the message names the variable, never a value."""
    if config.secret_env is None:
        return None
    if environ is None:
        environ = os.environb
    value = environ.get(os.fsencode(config.secret_env))
    if not value:
        raise ConfigError(
            f"[herd] secret_env: the environment variable {config.secret_env} is not set or is empty"
        )
    return value


def _places(text: str, raw: dict, o: Overrides) -> PlacesConfig:
    provider = _str(text, raw, "provider", False) or "offline"
    if "provider" in raw and raw["provider"] == "":
        provider = ""
    if provider not in ("offline", "google", "google-new"):
        raise ConfigError(
            f"[places] provider {rust_debug(provider)} is unknown "
            '(use "offline", "google" or "google-new")'
        )
    url = _str(text, raw, "url", False)
    if url is not None and (
        not (url.startswith("http://") or url.startswith("https://")) or " " in url
    ):
        raise ConfigError(f"[places] url {rust_debug(url)} is not an http(s) URL")
    timeout = o.places_timeout_ms
    if timeout is None:
        timeout = _int(text, raw, "timeout_ms", U64)
    if timeout is None:
        timeout = 5000
    if timeout == 0:
        raise ConfigError("[places] timeout_ms must be more than 0")
    return PlacesConfig(provider, url, timeout)


def _limits(text: str, raw: dict, o: Overrides) -> Limits:
    values = {}
    for key, maximum in _LIMIT_KEYS.items():
        flag = getattr(o, key)
        value = flag if flag is not None else _int(text, raw, key, maximum)
        if value is not None:
            values[key] = value
    limits = replace(Limits(), **values)
    for name in (
        "threads",
        "max_line_bytes",
        "idle_timeout_ms",
        "max_clients",
        "write_timeout_ms",
        "reconnect_min_ms",
        "peer_garbage_lines",
        "peer_queue",
        "handshake_timeout_ms",
        "max_clock_ahead_ms",
        "max_cached_clients",
    ):
        if getattr(limits, name) == 0:
            raise ConfigError(f"[limits] {name} must be more than 0")
    if limits.threads > 4096:
        raise ConfigError("[limits] threads must be at most 4096")
    if limits.reconnect_max_ms < limits.reconnect_min_ms:
        raise ConfigError("[limits] reconnect_max_ms must be at least reconnect_min_ms")
    return limits


def _log(text: str, raw: dict, o: Overrides) -> LogConfig:
    max_bytes = o.log_max_bytes if o.log_max_bytes is not None else _int(text, raw, "max_bytes", U64)
    keep = o.log_keep if o.log_keep is not None else _int(text, raw, "keep", U64)
    answers = o.log_answers if o.log_answers else _bool(text, raw, "answers")
    d = LogConfig()
    log = LogConfig(
        d.max_bytes if max_bytes is None else max_bytes,
        d.keep if keep is None else keep,
        d.answers if answers is None else answers,
    )
    if log.keep == 0:
        raise ConfigError("[log] keep must be more than 0")
    return log


def _bool(text: str, table: dict, key: str) -> bool | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ConfigError(
            f"{_line_of(text, key)}invalid type: {type(value).__name__} for `{key}`, expected a boolean"
        )
    return value


def _servers(text: str, raw: list) -> tuple[ServerConfig, ...]:
    if not raw:
        raise ConfigError("no [[server]] entries")
    parsed = []
    for entry in raw:
        entry = _check_table(text, entry, _SERVER_KEYS, "server")
        name = _str(text, entry, "name", True)
        addr = _str(text, entry, "addr", True)
        peers = entry.get("peers", [])
        if not isinstance(peers, list) or not all(isinstance(p, str) for p in peers):
            raise ConfigError(f"{_line_of(text, 'peers')}invalid type for `peers`, expected a sequence of strings")
        store_dir = _str(text, entry, "store_dir", False)
        parsed.append((name, addr, peers, store_dir))
    names: set[str] = set()
    addrs: set[str] = set()
    for name, addr, _, store_dir in parsed:
        check_name(name)
        if name in names:
            raise ConfigError(f"server {rust_debug(name)} is named twice")
        names.add(name)
        check_addr(name, addr)
        if store_dir == "":
            raise ConfigError(f"server {rust_debug(name)}: store_dir is empty")
        if addr in addrs:
            raise ConfigError(f"address {rust_debug(addr)} is used twice")
        addrs.add(addr)
    links: dict[str, set[str]] = {}
    for name, _, peers, _ in parsed:
        for peer in peers:
            if peer not in names:
                raise ConfigError(f"server {rust_debug(name)}: peer {rust_debug(peer)} is not a server")
            if peer == name:
                raise ConfigError(f"server {rust_debug(name)} names itself as a peer")
            links.setdefault(name, set()).add(peer)
            links.setdefault(peer, set()).add(name)
    # Peers sorted byte-wise, as Rust's BTreeSet<&str> orders them.
    return tuple(
        ServerConfig(name, addr, tuple(sorted(links.get(name, ()), key=lambda s: s.encode())), store_dir)
        for name, addr, _, store_dir in parsed
    )


def check_name(name: str) -> None:
    if not name or any(c.isspace() or unicodedata.category(c) == "Cc" for c in name):
        raise ConfigError(f"server name {rust_debug(name)} must be non-empty with no white space")


_PORT = re.compile(r"\+?[0-9]+\Z")
_HOST = re.compile(r"[A-Za-z0-9._-]+\Z")


def check_addr(name: str, addr: str) -> None:
    bad = ConfigError(f"server {rust_debug(name)}: address {rust_debug(addr)} is not host:port")
    if ":" not in addr:
        raise bad
    host, port = addr.rsplit(":", 1)
    if host.startswith("[") and host.endswith("]"):
        v6 = host[1:-1]
        try:
            host_ok = "%" not in v6 and bool(ipaddress.IPv6Address(v6))
        except ValueError:
            host_ok = False
    else:
        host_ok = bool(_HOST.match(host))
    if not _PORT.match(port) or not host_ok:
        raise bad
    number = int(port)
    if not 0 < number <= 65535:
        raise bad


def split_host_port(addr: str) -> tuple[str, int]:
    host, port = addr.rsplit(":", 1)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)
