"""Authenticated peer links (PROTOCOL §7): the test vector, and the
handshake against real nodes on port 0 and real herd-asyncio processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from conftest import LAUNCHER, ask, eventually, free_port, now_text

from herd import config as c
from herd import peer_auth

SECRET = b"correct horse battery staple"
NONCE_O = "0123456789abcdef0123456789abcdef"


def test_the_protocol_test_vector():
    nonce_a = "fedcba9876543210fedcba9876543210"
    p = peer_auth.proof(b"s3cret", "Clark", "Jaquez", NONCE_O, nonce_a)
    w = peer_auth.welcome(b"s3cret", "Jaquez", "Clark", nonce_a, NONCE_O)
    assert p == "f1db1357d5bc2504b23185348dfad00427eb3b94de04cc3dbf9f23f4cd2ec1c5"
    assert w == "331a9ac7f4601041ca798c5cea263c380d22d6bd11900d73354b09c98d1ce67a"
    assert peer_auth.matches(p, p)
    assert not peer_auth.matches(p, p.upper())  # only lowercase hex can match
    assert not peer_auth.matches(p, p[:-1])
    assert not peer_auth.matches(p, w)


def test_nonces_and_handshake_lines():
    a, b = peer_auth.new_nonce(), peer_auth.new_nonce()
    assert a != b and len(a) == 32 and a == a.lower() and peer_auth.valid_nonce(a)
    assert peer_auth.valid_nonce(NONCE_O.upper())
    for bad in ("", NONCE_O[:-1], NONCE_O + "0", "g" * 32, "٠" * 32):
        assert not peer_auth.valid_nonce(bad), bad
    assert peer_auth.hello(f"PEER Clark {NONCE_O}") == ("Clark", NONCE_O)
    assert peer_auth.hello(f"\tPEER  Clark\x0b{NONCE_O} ") == ("Clark", NONCE_O)
    assert peer_auth.hello("PEER Clark") is None
    assert peer_auth.hello(f"PEER Clark {NONCE_O} x") is None
    assert peer_auth.operand("PROOF abc", "PROOF") == "abc"
    assert peer_auth.operand("PROOF abc", "WELCOME") is None
    assert peer_auth.operand("PROOF", "PROOF") is None


def test_secret_comes_from_the_environment_as_bytes():
    cfg = c.parse('[herd]\nsecret_env = "HS"\n[[server]]\nname = "A"\naddr = "127.0.0.1:1"\n', c.Overrides())
    assert cfg.secret_env == "HS"
    assert c.read_secret(cfg, {b"HS": b"\xffkey"}) == b"\xffkey"
    for environ in ({}, {b"HS": b""}):
        try:
            c.read_secret(cfg, environ)
            raise AssertionError("an unset or empty secret must be a config error")
        except c.ConfigError as e:
            assert str(e) == "[herd] secret_env: the environment variable HS is not set or is empty"
    no_secret = c.parse('[[server]]\nname = "A"\naddr = "127.0.0.1:1"\n', c.Overrides())
    assert c.read_secret(no_secret, {}) is None
    assert no_secret.limits.handshake_timeout_ms == 5000


class Conn:
    """A line-at-a-time client socket with a deadline on every read."""

    def __init__(self, addr) -> None:
        self.sock = socket.create_connection(addr, timeout=10)
        self.buf = b""

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                rest, self.buf = self.buf, b""
                return rest
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def closed(self) -> bool:
        return self.line() == b"" and self.buf == b""

    def close(self) -> None:
        self.sock.close()


def _opener(addr, secret: bytes, me: str, acceptor: str, nonce_o: str = NONCE_O):
    """Plays the opener up to the PROOF; returns (conn, nonce_a, proof sent)."""
    conn = Conn(addr)
    conn.send(f"PEER {me} {nonce_o}")
    challenge = conn.line().decode()
    assert challenge.startswith("CHALLENGE ")
    nonce_a = challenge.split()[1]
    assert len(nonce_a) == 32 and peer_auth.valid_nonce(nonce_a)
    proof = peer_auth.proof(secret, me, acceptor, nonce_o, nonce_a)
    conn.send(f"PROOF {proof}")
    return conn, nonce_a, proof


def test_nodes_with_the_same_secret_link_and_flood(herd_factory):
    herd = herd_factory({"A": ["B"], "B": ["C"], "C": []}, secrets={n: SECRET for n in "ABC"})
    line = ask(herd.addrs["A"], f"IAMAT kiwi +34.068930-118.445127 {now_text()}\n".encode())
    assert line.startswith(b"AT A ")
    c_addr = herd.addrs["C"]
    assert eventually(lambda: ask(c_addr, b"WHATSAT kiwi 1 1\n").startswith(line))
    log = herd.log_text("B")
    assert "CHALLENGE " in log and "PROOF " in log and "WELCOME " in log
    assert "link to C (" in log and "link from A (" in log
    # (A first attempt may meet a node still starting: a reset, not a refusal.)
    assert "refused: wrong" not in log and "refused: expected" not in log


def test_a_node_with_a_wrong_secret_is_refused_both_ways(herd_factory):
    herd = herd_factory(
        {"A": ["B"], "B": ["C"], "C": []},
        secrets={"A": SECRET, "B": SECRET, "C": b"not the secret"},
        reconnect_max_ms=200,
    )

    def refusals(name: str, text: str) -> int:
        return herd.log_text(name).count(text)

    line = ask(herd.addrs["A"], f"IAMAT kiwi +1+1 {now_text()}\n".encode())
    assert eventually(lambda: ask(herd.addrs["B"], b"WHATSAT kiwi 1 1\n").startswith(line))
    # B has kiwi now; wait for two more refused attempts each way, so any
    # link that could carry kiwi to C has been tried and refused since.
    b_before, c_before = refusals("B", "refused: wrong proof"), refusals("C", "refused: wrong proof")
    assert eventually(lambda: refusals("B", "refused: wrong proof") >= b_before + 2
                      and refusals("C", "refused: wrong proof") >= c_before + 2)
    assert ask(herd.addrs["C"], b"WHATSAT kiwi 1 1\n") == b"? WHATSAT kiwi 1 1\n"
    b_log, c_log = herd.log_text("B"), herd.log_text("C")
    assert "link from C (" in b_log and "link to C (" in b_log and 'refused: expected WELCOME, got "? PROOF ' in b_log
    assert "link from B (" in c_log and "link to B (" in c_log
    assert not [x for x in c_log.splitlines() if x.endswith(") up")]  # C's only links are with B
    assert not [x for x in b_log.splitlines() if x.endswith(") up") and " C (" in x]


def test_a_bare_peer_a_stranger_and_a_bad_nonce_are_refused(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []}, secrets={"A": SECRET, "B": SECRET})
    a = herd.addrs["A"]
    assert ask(a, b"PEER B\nAT B +0.1 x +1+1 1\n") == b"? PEER B\n"
    assert ask(a, f"PEER Nobody {NONCE_O}\n".encode()) == f"? PEER Nobody {NONCE_O}\n".encode()
    assert ask(a, b"PEER B 0123\n") == b"? PEER B 0123\n"
    assert ask(a, f"PEER B {NONCE_O} extra\n".encode()) == f"? PEER B {NONCE_O} extra\n".encode()
    assert ask(a, f"HELLO\nPEER B {NONCE_O}\n".encode()) == f"? HELLO\n? PEER B {NONCE_O}\n".encode()
    assert eventually(lambda: all(
        why in herd.log_text("A")
        for why in ("link from B (127.0.0.1:", "refused: no nonce (a bare PEER)",
                    "link from Nobody (", "refused: not a neighbour", "refused: bad nonce",
                    "refused: malformed PEER line")
    ))


def test_without_a_secret_a_peer_with_a_nonce_is_a_bad_line(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []})
    a = herd.addrs["A"]
    assert ask(a, f"PEER B {NONCE_O}\n".encode()) == f"? PEER B {NONCE_O}\n".encode()


def test_a_good_exchange_then_a_replayed_proof_is_refused(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []}, secrets={"A": SECRET, "B": SECRET})
    herd.stop("B")  # the test plays B
    a = herd.addrs["A"]
    conn, nonce_a, proof = _opener(a, SECRET, "B", "A")
    welcome = conn.line().decode()
    assert welcome == "WELCOME " + peer_auth.welcome(SECRET, "A", "B", nonce_a, NONCE_O)
    conn.send(f"AT B +0.000000000 authed +1+1 {now_text()}")
    assert eventually(lambda: ask(a, b"WHATSAT authed 1 1\n").startswith(b"AT B "))
    replay = Conn(a)
    replay.send(f"PEER B {NONCE_O}")
    challenge = replay.line().decode()
    assert challenge.startswith("CHALLENGE ") and challenge.split()[1] != nonce_a
    replay.send(f"PROOF {proof}")
    assert replay.line() == f"? PROOF {proof}".encode()
    assert replay.closed()
    assert eventually(lambda: "link from B (127.0.0.1:" in herd.log_text("A")
                      and "refused: wrong proof" in herd.log_text("A"))
    # The refused connection did not replace the good link.
    conn.send(f"AT B +0.000000000 still-up +1+1 {now_text()}")
    assert eventually(lambda: ask(a, b"WHATSAT still-up 1 1\n").startswith(b"AT B "))
    conn.close()
    replay.close()


def test_a_line_that_is_not_proof_and_a_silent_opener_are_refused(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []}, secrets={"A": SECRET, "B": SECRET}, handshake_timeout_ms=300)
    herd.stop("B")
    a = herd.addrs["A"]
    conn = Conn(a)
    conn.send(f"PEER B {NONCE_O}")
    assert conn.line().startswith(b"CHALLENGE ")
    conn.send(f"AT B +0.000000000 sneaky +1+1 {now_text()}")
    assert conn.line().startswith(b"? AT B ")
    assert conn.closed()
    conn.close()
    silent = Conn(a)
    silent.send(f"PEER B {NONCE_O}")
    assert silent.line().startswith(b"CHALLENGE ")
    started = time.monotonic()
    assert silent.closed()
    assert time.monotonic() - started < 3
    silent.close()
    assert eventually(lambda: "refused: expected PROOF" in herd.log_text("A")
                      and "refused: no PROOF within 300 ms" in herd.log_text("A"))
    assert ask(a, b"WHATSAT sneaky 1 1\n") == b"? WHATSAT sneaky 1 1\n"


def test_the_opener_drops_a_wrong_welcome(herd_factory):
    herd = herd_factory({"A": ["B"], "B": []}, secrets={"A": SECRET, "B": SECRET})
    herd.stop("B")  # a fake B that answers with the wrong WELCOME
    listener = socket.create_server(("127.0.0.1", herd.addrs["B"][1]))
    listener.settimeout(10)
    try:
        sock, _ = listener.accept()
        sock.settimeout(10)
        with sock:
            data = b""
            while b"\n" not in data:
                data += sock.recv(4096)
            assert data.startswith(b"PEER A ") and peer_auth.valid_nonce(data.split()[2].decode())
            sock.sendall(b"CHALLENGE " + NONCE_O.encode() + b"\nWELCOME " + b"0" * 64 + b"\n")
            assert eventually(lambda: "link to B (127.0.0.1:" in herd.log_text("A")
                              and "refused: wrong WELCOME" in herd.log_text("A"))
            rest = b""
            while chunk := sock.recv(4096):  # A drops the link: EOF, no AT lines
                rest += chunk
            assert rest.startswith(b"PROOF ") and b"AT " not in rest
    finally:
        listener.close()


def test_cli_unset_or_empty_secret_is_a_config_error(tmp_path):
    cfg = tmp_path / "herd.toml"
    cfg.write_text(f'[herd]\nsecret_env = "HERD_TEST_SECRET"\n[[server]]\nname = "A"\naddr = "127.0.0.1:{free_port()}"\n')
    for value in (None, ""):
        env = {k: v for k, v in os.environ.items() if k != "HERD_TEST_SECRET"}
        if value is not None:
            env["HERD_TEST_SECRET"] = value
        run = subprocess.run([LAUNCHER, "node", "A", "--config", str(cfg), "--log-dir", str(tmp_path)],
                             capture_output=True, env=env, timeout=60)
        assert run.returncode == 2, run
        assert run.stderr == (b"herd: [herd] secret_env: the environment variable HERD_TEST_SECRET "
                              b"is not set or is empty\n")
        assert run.stdout == b""
    assert not (tmp_path / "A.log").exists()  # stopped before the node started


def test_cli_processes_link_and_never_show_the_secret(tmp_path):
    secret = "s3cret-" + peer_auth.new_nonce()
    ports = {"A": free_port(), "B": free_port()}
    cfg = tmp_path / "herd.toml"
    cfg.write_text(
        '[herd]\nsecret_env = "HERD_TEST_SECRET"\n'
        f'[[server]]\nname = "A"\naddr = "127.0.0.1:{ports["A"]}"\npeers = ["B"]\n'
        f'[[server]]\nname = "B"\naddr = "127.0.0.1:{ports["B"]}"\n'
    )
    env = dict(os.environ, HERD_TEST_SECRET=secret)
    procs = {
        name: subprocess.Popen([LAUNCHER, "node", name, "--config", str(cfg), "--log-dir", str(tmp_path),
                                "--handshake-timeout-ms", "2000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for name in ports
    }
    try:
        def answer(name: str, data: bytes) -> bytes:
            try:
                return ask(("127.0.0.1", ports[name]), data, timeout=5)
            except OSError:
                return b""

        assert eventually(lambda: answer("A", b"HELLO\n") == b"? HELLO\n" and answer("B", b"HELLO\n"), 60)
        line = answer("A", f"IAMAT kiwi +1+1 {now_text()}\n".encode())
        assert line.startswith(b"AT A ")
        assert eventually(lambda: answer("B", b"WHATSAT kiwi 1 1\n").startswith(line), 20)
        outputs = {}
        for name, proc in procs.items():
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=10)
            assert proc.returncode == 0
            outputs[name] = out + err
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    logs = {name: (tmp_path / f"{name}.log").read_bytes() for name in ports}
    assert b"WELCOME " in logs["A"] and b"PROOF " in logs["B"]
    for text in (*logs.values(), *outputs.values()):
        assert secret.encode() not in text
