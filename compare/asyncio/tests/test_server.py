"""A real node on port 0 (see conftest.py), driven over TCP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from conftest import LAUNCHER, ask, eventually, free_port, now_text


def test_iamat_whatsat_and_invalid_lines(node):
    herd, addr = node
    t = now_text()
    out = ask(addr, f"IAMAT kiwi +34.068930-118.445127 {t}\r\n\nWHATSAT kiwi 10 2\nHELLO\n".encode()
              + b"\xff\xfe x\nAT Clark +0.000000000 kiwi +1+1 1\nWHATSAT nobody 10 2")
    lines = out.split(b"\n")
    assert lines[0].startswith(b"AT Clark +0.") and lines[0].endswith(f" kiwi +34.068930-118.445127 {t}".encode())
    assert lines[1] == lines[0]
    answer_end = out.index(b"\n\n")
    assert b'"name" : "Westwood, Los Angeles"' in out[:answer_end]
    assert out[answer_end + 2:] == (b"? HELLO\n? \xff\xfe x\n? AT Clark +0.000000000 kiwi +1+1 1\n"
                                    b"? WHATSAT nobody 10 2\n")
    assert eventually(lambda: "\\xff\\xfe x" in herd.log_text("Clark"))
    log = herd.log_text("Clark")
    assert "< 127.0.0.1:" in log and "WHATSAT kiwi 10 2" in log


def test_a_line_over_the_cap_gets_its_first_kib_and_a_close(node):
    herd, addr = node
    out = ask(addr, b"y" * 70_000 + b"\nIAMAT a +1+1 1\n")
    assert out == b"? " + b"y" * 1024 + b"\n"
    assert eventually(lambda: "line over 65536 bytes" in herd.log_text("Clark"))


def test_idle_clients_are_closed_and_a_trickle_does_not_help(herd_factory):
    herd = herd_factory({"Clark": []}, idle_timeout_ms=500)
    addr = herd.addrs["Clark"]
    started = time.monotonic()
    with socket.create_connection(addr, timeout=5) as s:
        closed_at = None
        for _ in range(40):
            try:
                s.sendall(b"x")
            except OSError:
                closed_at = time.monotonic()
                break
            s.settimeout(0.1)
            try:
                if s.recv(100) == b"":
                    closed_at = time.monotonic()
                    break
            except socket.timeout:
                pass
        assert closed_at is not None and closed_at - started < 1.5
    assert eventually(lambda: "idle for 500ms, closed" in herd.log_text("Clark"))


def test_connections_over_the_cap_are_closed_at_once(herd_factory):
    herd = herd_factory({"Clark": []}, max_clients=2)
    addr = herd.addrs["Clark"]
    held = [socket.create_connection(addr) for _ in range(2)]
    try:
        assert eventually(lambda: herd.nodes["Clark"].clients == 2)
        with socket.create_connection(addr, timeout=5) as extra:
            assert extra.recv(10) == b""
        assert eventually(lambda: "refused 127.0.0.1:" in herd.log_text("Clark"))
    finally:
        for s in held:
            s.close()
    assert eventually(lambda: herd.nodes["Clark"].clients == 0)
    assert ask(addr, b"HELLO\n") == b"? HELLO\n"


def test_peer_hello_rules(herd_factory):
    herd = herd_factory({"Clark": ["Jaquez"], "Jaquez": []})
    addr = herd.addrs["Clark"]
    assert ask(addr, b"PEER Nobody\nHELLO\n") == b"? PEER Nobody\n"
    assert ask(addr, b"PEER\n") == b"? PEER\n"
    assert ask(addr, b"HELLO\nPEER Jaquez\n") == b"? HELLO\n? PEER Jaquez\n"


def test_updates_flood_and_older_ones_do_not(herd_factory):
    herd = herd_factory({"A": ["B"], "B": ["C"], "C": []})
    a, c = herd.addrs["A"], herd.addrs["C"]
    t = now_text()
    first = ask(a, f"IAMAT kiwi +34.068930-118.445127 {t}\n".encode())
    assert eventually(lambda: ask(c, b"WHATSAT kiwi 1 1\n").startswith(first))
    old = ask(c, f"IAMAT kiwi +1+1 {now_text(-100)}\n".encode())
    assert old.startswith(b"AT C ")
    # A probe sent after it travels the same links (C -> B -> A, in order):
    # once the probe is at A, the older update would have been too.
    probe = ask(c, f"IAMAT probe +1+1 {now_text()}\n".encode())
    assert eventually(lambda: ask(a, b"WHATSAT probe 1 1\n").startswith(probe))
    assert ask(a, b"WHATSAT kiwi 1 1\n").startswith(first)


def test_a_restarted_neighbour_is_caught_up(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []}, reconnect_max_ms=200)
    herd.stop("B")
    for i in range(20):
        ask(herd.addrs["A"], f"IAMAT c{i} +1+1 {now_text()}\n".encode())
    herd.start("B")
    b = herd.addrs["B"]
    assert eventually(lambda: all(ask(b, f"WHATSAT c{i} 1 1\n".encode()).startswith(b"AT A ") for i in range(20)))
    assert eventually(lambda: "catch-up to B: 20 clients sent" in herd.log_text("A"))


def test_queue_overflow_forces_a_catch_up(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []}, peer_queue=2, reconnect_min_ms=1000, reconnect_max_ms=1000)
    herd.stop("B")
    lines = "".join(f"IAMAT q{i} +1+1 {now_text()}\n" for i in range(50)).encode()
    assert ask(herd.addrs["A"], lines).count(b"AT A ") == 50
    assert herd.nodes["A"].flooder.links[0].resync or herd.nodes["A"].flooder.queued("B") <= 2
    herd.start("B")
    b = herd.addrs["B"]
    assert eventually(lambda: ask(b, b"WHATSAT q49 1 1\nWHATSAT q0 1 1\n").count(b"AT A ") == 2)


def test_garbage_on_a_link_closes_it(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []}, peer_garbage_lines=3)
    # The test plays B: B's own live link would have its PEER refused.
    herd.stop("B")
    with socket.create_connection(herd.addrs["A"], timeout=5) as s:
        s.sendall(b"PEER B\nnonsense\nmore\n\xff\n")
        assert s.recv(100) == b""  # closed, never answered
    assert eventually(lambda: "down: 3 invalid lines" in herd.log_text("A"))


def test_a_client_that_never_reads_is_dropped(herd_factory):
    herd = herd_factory({"Clark": []}, write_timeout_ms=300)
    addr = herd.addrs["Clark"]
    ask(addr, f"IAMAT kiwi +48.8566+2.3522 {now_text()}\n".encode())
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(addr)
    try:
        # About 6 MB of answers, more than the kernel buffers hold: the
        # server's drain() waits, and the write timeout drops the client.
        s.sendall(b"WHATSAT kiwi 50 20\n" * 600)
        assert eventually(lambda: herd.nodes["Clark"].clients == 0, 20)
    finally:
        s.close()


def test_stop_is_prompt_with_idle_and_half_sent_clients(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []})
    socks = [socket.create_connection(herd.addrs["A"]) for _ in range(20)]
    for s in socks[:10]:
        s.sendall(b"IAMAT half-sent")
    assert eventually(lambda: herd.nodes["A"].clients == 20)
    took = herd.stop("A")
    assert took < 2.0
    for s in socks:
        s.close()
    assert "A stopped in" in herd.log_text("A")


def test_cli_config_errors_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[server]]\nname = "Clark"\naddr = "127.0.0.1:1"\n[limits]\nthread = 4\n')
    for args in (["node", "Clark", "--config", str(bad)], ["node", "Nobody"],
                 ["node", "Clark", "--config", str(tmp_path / "missing.toml")]):
        run = subprocess.run([LAUNCHER, *args, "--log-dir", str(tmp_path)], capture_output=True, timeout=60)
        assert run.returncode == 2, run
        assert run.stderr.startswith(b"herd: ") and run.stderr.count(b"\n") == 1, run.stderr
    env = dict(os.environ, PLACES_API_KEY="")
    good = tmp_path / "g.toml"
    good.write_text('[places]\nprovider = "google"\n[[server]]\nname = "Clark"\naddr = "127.0.0.1:1"\n')
    run = subprocess.run([LAUNCHER, "node", "Clark", "--config", str(good)], capture_output=True, env=env, timeout=60)
    assert run.returncode == 2 and b"needs an API key in PLACES_API_KEY" in run.stderr


def test_cli_runs_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    cfg = tmp_path / "herd.toml"
    cfg.write_text(f'[[server]]\nname = "Clark"\naddr = "127.0.0.1:{port}"\n')
    proc = subprocess.Popen([LAUNCHER, "node", "Clark", "--config", str(cfg), "--log-dir", str(tmp_path),
                             "--threads", "4", "--idle-timeout-ms", "1000"], stderr=subprocess.PIPE)
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                return True
            except OSError:
                return False

        assert eventually(up, 60)
        idle = socket.create_connection(("127.0.0.1", port))
        assert ask(("127.0.0.1", port), b"HELLO\n") == b"? HELLO\n"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        assert time.monotonic() - started < 2.0
        idle.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "Clark.log").read_text()
    assert "Clark listening on" in log and "Clark stopped in" in log
