"""PROTOCOL §5's limits on what reaches the cache: the clock window for
IAMAT (max_clock_ahead_ms) and the cap on cached clients
(max_cached_clients)."""

from __future__ import annotations

import datetime
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


def _rec(line: str):
    from herd.cache import AtRecord
    from herd.protocol import parse

    return AtRecord.new(parse(line))


def test_a_full_cache_evicts_the_oldest_and_drops_an_older_newcomer():
    from herd.cache import Cache

    cache = Cache(capacity=3)
    a, b, c = (_rec(f"AT A +0.000000000 {n} +1+1 {t}") for n, t in (("a", 1), ("b", 2), ("c", 3)))
    for r in (a, b, c):
        assert cache.offer(r) is r
    assert cache.evicted == 0 and len(cache) == 3
    # An update of a kept client never evicts; b's old entry goes stale.
    b2 = _rec("AT A +0.000000000 b +1+1 10")
    assert cache.offer(b2) is b2 and len(cache) == 3 and cache.evicted == 0
    d = _rec("AT A +0.000000000 d +1+1 4")
    assert cache.offer(d) is d
    assert cache.get("a") is None and cache.evicted == 1 and len(cache) == 3
    # Older than every kept one (c, 3 s): dropped, nothing evicted.
    assert cache.offer(_rec("AT A +0.000000000 e +1+1 2.999999999")) is None
    assert cache.get("e") is None and cache.evicted == 1 and len(cache) == 3
    # The oldest is c, not b's stale entry (2 s).
    f = _rec("AT A +0.000000000 f +1+1 5")
    assert cache.offer(f) is f and cache.get("c") is None and cache.get("b") is b2
    assert cache.evicted == 2 and cache.take_unreported() == 2 and cache.take_unreported() == 0


def test_equal_times_evict_the_byte_wise_smaller_line_first():
    from herd.cache import Cache

    cache = Cache(capacity=2)
    x, y = _rec("AT A +0.000000000 y +1+1 5"), _rec("AT A +0.000000000 x +1+1 5")
    cache.offer(x)
    cache.offer(y)
    # A newcomer with the same time and a smaller line is older than both.
    assert cache.offer(_rec("AT A +0.000000000 w +1+1 5")) is None
    z = _rec("AT A +0.000000000 z +1+1 5")
    assert cache.offer(z) is z and cache.get("x") is None and cache.get("y") is x


def test_stale_heap_entries_are_compacted():
    from herd.cache import Cache

    cache = Cache(capacity=10)
    for t in range(1, 5000):
        cache.offer(_rec(f"AT A +0.000000000 k +1+1 {t}"))
    assert len(cache) == 1 and len(cache._heap) <= 2 * len(cache) + 64
    for n in range(20):
        cache.offer(_rec(f"AT A +0.000000000 n{n} +1+1 {10_000 + n}"))
    assert len(cache) == 10 and cache.get("k") is None and cache.get("n19") is not None
    assert cache.get("n9") is None and cache.get("n10") is not None


def test_a_node_at_its_cap_evicts_logs_and_floods_nothing_for_a_dropped_client(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []}, clock=lambda: NOW, max_cached_clients=2)
    a, b = herd.addrs["A"], herd.addrs["B"]
    herd.nodes["B"].cache.capacity = 100
    for name, back in (("k1", 3), ("k2", 2), ("k3", 1)):
        assert ask(a, f"IAMAT {name} +1+1 {text(NOW - back * 10**9)}\n".encode()).startswith(b"AT A +")
    assert ask(a, b"WHATSAT k1 1 1\n") == b"? WHATSAT k1 1 1\n"
    assert ask(a, b"WHATSAT k3 1 1\n").startswith(b"AT A +1.000000000 k3")
    assert eventually(lambda: "cache full at 2 clients: evicted 1 since the last notice" in herd.log_text("A"))
    # A newcomer older than both kept clients: answered, not kept, not flooded.
    old = f"IAMAT k0 +1+1 {text(NOW - 10 * 10**9)}"
    assert ask(a, old.encode() + b"\n") == f"AT A +10.000000000 k0 +1+1 {text(NOW - 10 * 10**9)}\n".encode()
    assert ask(a, b"WHATSAT k0 1 1\n") == b"? WHATSAT k0 1 1\n"
    assert ask(a, f"IAMAT k9 +1+1 {text(NOW)}\n".encode()).startswith(b"AT A +0.000000000 k9")
    assert eventually(lambda: ask(b, b"WHATSAT k9 1 1\n").startswith(b"AT A "))
    assert ask(b, b"WHATSAT k0 1 1\n") == b"? WHATSAT k0 1 1\n"  # floods keep their order
    assert ask(b, b"WHATSAT k1 1 1\n").startswith(b"AT A ")  # B's cache is its own
    # Evictions in a burst: one notice now, the rest a second later at most.
    for n in range(5):
        ask(a, f"IAMAT burst{n} +1+1 {text(NOW + n + 1)}\n".encode())
    def notices():
        return [line for line in herd.log_text("A").splitlines() if "cache full at 2 clients" in line]

    # 7 evictions in all (k1, k2, k3 and four of the burst), every one reported.
    assert eventually(lambda: sum(int(n.split("evicted ")[1].split()[0]) for n in notices()) == 7, 5)
    times = [datetime.datetime.fromisoformat(n.split()[0].replace("Z", "+00:00")) for n in notices()]
    assert len(times) >= 2 and all((t2 - t1).total_seconds() >= 0.999 for t1, t2 in zip(times, times[1:]))
