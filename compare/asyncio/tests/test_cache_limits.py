"""PROTOCOL §5's limits on what reaches the cache: the clock window for
IAMAT (max_clock_ahead_ms) and the cap on cached clients
(max_cached_clients)."""

from __future__ import annotations

import socket

from conftest import ask, eventually

NOW = 1_796_000_000_123_456_789


def text(ns: int) -> str:
    return f"{ns // 10**9}.{ns % 10**9:09d}"


def test_an_iamat_too_far_ahead_is_invalid_to_the_nanosecond(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []}, clock=lambda: NOW, max_clock_ahead_ms=60_000)
    a, b = herd.addrs["A"], herd.addrs["B"]
    late = f"IAMAT over +1+1 {text(NOW + 60 * 10**9 + 1)}"
    assert ask(a, late.encode() + b"\n") == b"? " + late.encode() + b"\n"
    assert ask(a, b"WHATSAT over 1 1\n") == b"? WHATSAT over 1 1\n"
    at_limit = f"IAMAT edge +1+1 {text(NOW + 60 * 10**9)}"
    assert ask(a, at_limit.encode() + b"\n") == f"AT A -60.000000000 edge +1+1 {text(NOW + 60 * 10**9)}\n".encode()
    assert eventually(lambda: ask(b, b"WHATSAT edge 1 1\n").startswith(b"AT A -60.000000000 edge"))
    # An update already kept is not replaced by one from too far ahead.
    assert ask(a, f"IAMAT edge +2+2 {text(NOW + 61 * 10**9)}\n".encode()).startswith(b"? IAMAT edge")
    assert ask(a, b"WHATSAT edge 1 1\n").startswith(b"AT A -60.000000000 edge +1+1 ")
    assert "IAMAT over" in herd.log_text("A")


def test_the_window_follows_the_flag_and_at_lines_are_not_checked(herd_factory):
    herd = herd_factory({"A": ["Ghost"], "Ghost": []}, clock=lambda: NOW, max_clock_ahead_ms=1)
    herd.stop("Ghost")
    a = herd.addrs["A"]
    assert ask(a, f"IAMAT k +1+1 {text(NOW + 1_000_001)}\n".encode()).startswith(b"? IAMAT")
    assert ask(a, f"IAMAT k +1+1 {text(NOW + 1_000_000)}\n".encode()).startswith(b"AT A -0.001000000 k")
    # A neighbour's AT line an hour ahead: the neighbour checked it.
    with socket.create_connection(a, timeout=5) as link:
        link.sendall(f"PEER Ghost\nAT Ghost -3600.000000000 far +1+1 {text(NOW + 3600 * 10**9)}\n".encode())
        assert eventually(lambda: ask(a, b"WHATSAT far 1 1\n").startswith(b"AT Ghost -3600.000000000 far"))
