"""Fixtures: a node on port 0, served by an event loop on a thread of its own,
so that tests talk to it with plain blocking sockets as a real client does."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from herd.config import Config, Limits, LogConfig, PlacesConfig, ServerConfig  # noqa: E402
from herd.places.offline import Offline  # noqa: E402
from herd.server import Node, bind  # noqa: E402

# The build's launcher (PROTOCOL §6), for tests that start real processes.
LAUNCHER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "herd-asyncio")


def free_port() -> int:
    """A loopback port the kernel picked (racy by nature: callers retry or
    hold it briefly)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningHerd:
    """Nodes on ephemeral ports, all on one event loop in a thread."""

    def __init__(
        self, links: dict[str, list[str]], log_dir: str, secrets: dict[str, bytes] | None = None,
        clock=None, log=None, **limits
    ) -> None:
        self.secrets = secrets or {}
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.socks = {name: bind("127.0.0.1:0") for name in links}
        self.addrs = {name: s.getsockname()[:2] for name, s in self.socks.items()}
        peers = {name: set(p) for name, p in links.items()}
        for name, p in links.items():
            for other in p:
                peers[other].add(name)
        self.config = Config(
            PlacesConfig("offline", None, 5000),
            tuple(
                ServerConfig(name, f"127.0.0.1:{self.addrs[name][1]}", tuple(sorted(peers[name])))
                for name in links
            ),
            Limits(**limits),
            log=log or LogConfig(),
        )
        self.log_dir = log_dir
        self.nodes: dict[str, Node] = {}
        for name in links:
            self.start(name)

    def call(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, name: str) -> None:
        async def go():
            extra = {} if self.clock is None else {"clock": self.clock}
            node = Node(self.config, name, Offline(), self.log_dir, secret=self.secrets.get(name), **extra)
            sock = self.socks.get(name) or bind(f"127.0.0.1:{self.addrs[name][1]}")
            await node.start(sock)
            return node

        self.socks.pop(name, None)
        self.nodes[name] = self.call(go())

    def stop(self, name: str) -> float:
        took = self.call(self.nodes.pop(name).stop())
        return took

    def close(self) -> None:
        for name in list(self.nodes):
            self.stop(name)
        for s in self.socks.values():
            s.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def log_text(self, name: str) -> str:
        with open(os.path.join(self.log_dir, f"{name}.log"), encoding="utf-8") as f:
            return f.read()


@pytest.fixture
def herd_factory(tmp_path):
    made: list[RunningHerd] = []

    def make(links: dict[str, list[str]], secrets: dict[str, bytes] | None = None, **limits) -> RunningHerd:
        """``clock=`` (nanoseconds) and ``log=`` (LogConfig) as well as limits."""
        herd = RunningHerd(links, str(tmp_path), secrets, **limits)
        made.append(herd)
        return herd

    yield make
    for herd in made:
        herd.close()


@pytest.fixture
def node(herd_factory):
    """One node, Clark, on port 0; yields (herd, (host, port))."""
    herd = herd_factory({"Clark": []})
    return herd, herd.addrs["Clark"]


def ask(addr, data: bytes, timeout: float = 10) -> bytes:
    """Sends ``data``, half-closes, returns everything until the server closes."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def now_text(offset: float = 0.0) -> str:
    ns = time.time_ns() + int(offset * 1e9)
    return f"{ns // 10**9}.{ns % 10**9:09d}"


def eventually(check, deadline: float = 10.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return check()
