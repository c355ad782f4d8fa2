"""CLI: ``herd-asyncio node NAME [--config F] [--threads N] [--log-dir D]
[limit flags] [--store-sync MODE]`` (src/main.rs, ``node`` only).

The cache lives in memory only: ``--store-dir``, or ``store_dir`` in the
node's own ``[[server]]`` table, is refused (exit 2) before any port opens
(PROTOCOL §8); ``--store-sync`` is checked and changes nothing.

flags -> config -> Places -> signals -> bind -> serve -> exit code. Exit
codes: 0 a clean stop (SIGINT/SIGTERM; SIGHUP reopens the log); 2 a bad command line or config (one
line on stderr, ``herd: ...``, before any port opens); 1 a failure while
running (a port in use).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from . import config as configmod
from .peer import os_error_text


class Failure(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, as clap does
        self.exit(2, f"herd: {message}\n")


def _sync_mode(text: str) -> str:
    if text not in configmod.SYNC_MODES:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: {configmod.rust_debug(text)} is not always, everysec or never"
        )
    return text


def _count(text: str) -> int:
    if not text.isascii() or not text.lstrip("+").isdigit():
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a non-negative integer")
    return int(text)


LIMIT_FLAGS = [
    ("--max-line-bytes", "max_line_bytes", "BYTES",
     "longest line (65536); longer: '? ' + first 1 KiB, closed"),
    ("--idle-timeout-ms", "idle_timeout_ms", "MS",
     "close a client without a complete line for this long (60000)"),
    ("--max-clients", "max_clients", "N", "client connections; more are closed at once (1024)"),
    ("--write-timeout-ms", "write_timeout_ms", "MS",
     "drop a client that does not take a whole answer within this long of its first byte (10000)"),
    ("--reconnect-min-ms", "reconnect_min_ms", "MS", "neighbour reconnect backoff start (100)"),
    ("--reconnect-max-ms", "reconnect_max_ms", "MS", "neighbour reconnect backoff cap (2000)"),
    ("--peer-garbage-lines", "peer_garbage_lines", "N",
     "invalid lines before a neighbour's link is closed (10)"),
    ("--peer-queue", "peer_queue", "N",
     "queued updates per neighbour; overflow forces a catch-up (10000)"),
    ("--handshake-timeout-ms", "handshake_timeout_ms", "MS",
     "wait at most this long for each peer handshake line (5000)"),
    ("--park-idle-ms", "park_idle_ms", "MS",
     "accepted and ignored: the blocking build parks quiet clients off its pool (100)"),
    ("--places-timeout-ms", "places_timeout_ms", "MS",
     "a WHATSAT waits at most this long for Places (5000)"),
    ("--max-clock-ahead-ms", "max_clock_ahead_ms", "MS",
     "an IAMAT further ahead of this server's clock is invalid (60000)"),
    ("--max-cached-clients", "max_cached_clients", "N",
     "clients kept in the cache; past it the oldest is evicted (1000000)"),
]

LOG_FLAGS = [
    ("--log-max-bytes", "log_max_bytes", "BYTES",
     "rotate the log when the next entry would take it past this; 0: never (0)"),
    ("--log-keep", "log_keep", "K", "rotated logs kept, NAME.log.1 .. NAME.log.K (5)"),
]


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="herd-asyncio", description="herd, the asyncio build")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    node = sub.add_parser("node", help="runs one server of the herd (PROTOCOL §6)")
    node.add_argument("name", metavar="NAME", help="this server's name in the config")
    node.add_argument("--config", metavar="FILE", help="herd TOML (default: the five-server herd)")
    node.add_argument(
        "--threads", metavar="N", type=_count,
        help="accepted and logged (the asyncio build runs one event loop)",
    )
    node.add_argument("--log-dir", metavar="DIR", default="logs", help="log directory (logs)")
    for flag, dest, metavar, text in LIMIT_FLAGS + LOG_FLAGS:
        node.add_argument(flag, dest=dest, metavar=metavar, type=_count, help=text)
    node.add_argument(
        "--log-answers", dest="log_answers", action="store_true", default=None,
        help="log whole WHATSAT answers, not one summary entry each",
    )
    node.add_argument(
        "--store-dir", dest="store_dir", metavar="DIR",
        help="not supported in this build (memory only): exit 2",
    )
    node.add_argument(
        "--store-sync", dest="store_sync", metavar="MODE", type=_sync_mode,
        help="always/everysec/never: no effect in this build",
    )
    return p


def overrides_from(args) -> configmod.Overrides:
    """The flags that beat the config file."""
    return configmod.Overrides(
        threads=args.threads,
        log_answers=args.log_answers,
        store_sync=args.store_sync,
        **{dest: getattr(args, dest) for _, dest, _, _ in LIMIT_FLAGS + LOG_FLAGS},
    )


async def run_node(args) -> None:
    overrides = overrides_from(args)
    try:
        config = configmod.load(args.config, overrides)
        me = config.server(args.name)
        # No durable store here (PROTOCOL §8): refused before anything opens.
        if args.store_dir is not None:
            raise configmod.memory_only(me.name, "--store-dir")
        if me.store_dir is not None:
            raise configmod.memory_only(me.name, "store_dir in its [[server]] table")
        secret = configmod.read_secret(config)
        from .places import from_config

        key = os.environ.get("PLACES_API_KEY")
        places = await from_config(config.places, key)
    except configmod.ConfigError as e:
        raise Failure(str(e), 2) from None
    # Catch SIGINT/SIGTERM before the port opens: from the moment a client
    # can see the node, a signal means a clean stop.
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # SIGHUP reopens the log (PROTOCOL §4, for logrotate); it never stops
    # the node, not even before the node exists.
    started: list = []
    loop.add_signal_handler(signal.SIGHUP, lambda: started and started[0].log.reopen())
    from .server import Node, bind

    try:
        sock = bind(me.addr)
    except OSError as e:
        raise Failure(f"{me.name}: cannot listen on {me.addr}: {os_error_text(e)}", 1) from None
    try:
        node = Node(config, args.name, places, args.log_dir, secret=secret)
    except OSError as e:
        sock.close()
        raise Failure(f"{args.name}: cannot start: {os_error_text(e)}", 1) from None
    await node.start(sock)
    started.append(node)
    print(
        f"herd-asyncio: {args.name} listening on {me.addr}, --threads {config.limits.threads} "
        f"accepted (one event loop), log {node.log.path}",
        file=sys.stderr,
    )
    await stop.wait()
    took = await node.stop()
    print(f"herd-asyncio: {args.name} stopped in {int(took * 1000)} ms", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="[%(levelname)s %(name)s] %(message)s"
    )
    try:
        asyncio.run(run_node(args))
    except Failure as f:
        print(f"herd: {f.message}", file=sys.stderr)
        return f.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
