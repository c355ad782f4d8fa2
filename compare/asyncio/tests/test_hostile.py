"""Issue 13, "hostile input", against real herd-asyncio processes: sockets
that outlive the client cap, accept failures at the file limit, and the
whole-answer write deadline."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import time

from conftest import LAUNCHER, ask, eventually, free_port, now_text


class Process:
    """One ``herd-asyncio node Clark`` on a free port; stopped by ``close``."""

    def __init__(self, tmp_path, *flags: str, nofile: int | None = None) -> None:
        self.port = free_port()
        self.addr = ("127.0.0.1", self.port)
        self.tmp_path = tmp_path
        cfg = tmp_path / "herd.toml"
        cfg.write_text(f'[[server]]\nname = "Clark"\naddr = "127.0.0.1:{self.port}"\n')

        def limit_files():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [LAUNCHER, "node", "Clark", "--config", str(cfg), "--log-dir", str(tmp_path), *flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit_files,
        )
        assert eventually(lambda: self.answer(b"HELLO\n") == b"? HELLO\n", 60), self.stderr()

    def answer(self, data: bytes, timeout: float = 5) -> bytes:
        try:
            return ask(self.addr, data, timeout=timeout)
        except OSError:
            return b""

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def log(self) -> str:
        return (self.tmp_path / "Clark.log").read_text(errors="replace")

    def stderr(self) -> bytes:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
        return err

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _never_reading_client(addr, lines: bytes) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect(addr)
    try:
        s.sendall(lines)
    except OSError:
        pass  # reset at the write deadline while still sending: fine
    return s


def test_timed_out_clients_do_not_keep_their_sockets(tmp_path):
    """A client that never reads is dropped at the write deadline; its
    socket must be gone when it stops counting against max_clients, or
    round after round of such clients pile up sockets past the cap."""
    cap = 5
    node = Process(tmp_path, "--max-clients", str(cap), "--write-timeout-ms", "200",
                   "--idle-timeout-ms", "2000")
    held: list[socket.socket] = []
    try:
        baseline = node.open_fds()
        most = baseline
        for _ in range(3):
            # 6 MB of answers each ("? " and each line that is not UTF-8,
            # cheap to make), more than the kernel buffers between a 4 KiB
            # receive buffer and the server hold (loopback: about 4 MB).
            lines = (b"\xff" * 60_000 + b"\n") * 100
            held += [_never_reading_client(node.addr, lines) for _ in range(cap)]
            # Under the cap again once they timed out.
            assert eventually(lambda: node.answer(b"HELLO\n", 2) == b"? HELLO\n", 30)
            most = max(most, node.open_fds())
        assert most <= baseline + cap + 2, (baseline, most)
    finally:
        for s in held:
            s.close()
        node.close()


def test_accept_failures_at_the_file_limit_are_one_line_and_pass(tmp_path):
    """With few file descriptors, a burst of connections makes accept()
    fail with EMFILE: one notice for the burst, no traceback per accept,
    and once the burst is gone a fresh client is served."""
    node = Process(tmp_path, "--max-clients", "1000", nofile=64)
    held: list[socket.socket] = []
    try:
        for _ in range(120):
            held.append(socket.create_connection(node.addr, timeout=5))
        assert eventually(lambda: node.open_fds() >= 60, 10)
        time.sleep(2.5)  # accept() fails, pauses and fails again: a burst
        for s in held:
            s.close()
        held.clear()
        assert eventually(lambda: node.answer(b"HELLO\n", 2) == b"? HELLO\n", 20)
        err = node.stderr()
        # The start and stop lines, nothing about accept().
        assert b"Traceback" not in err and err.count(b"\n") == 2, err
        assert node.log().count("accept failed") == 1, node.log()
    finally:
        for s in held:
            s.close()
        node.close()


def test_a_slow_reader_is_cut_off_at_the_answer_deadline(herd_factory):
    """One deadline for a whole answer (the answers to lines that arrived
    together), counted from its first byte: a reader that takes a little
    now and then is aborted at the deadline, not served for minutes."""
    herd = herd_factory({"Clark": []}, write_timeout_ms=300)
    addr = herd.addrs["Clark"]
    ask(addr, f"IAMAT la +34.0522-118.2437 {now_text()}\n".encode())
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect(addr)
    try:
        # About 7 MB of answers to lines sent at once: more than the kernel
        # buffers hold (about 4 MB on loopback).
        s.sendall(b"WHATSAT la 20 20\n" * 900)
        started = time.monotonic()
        ended = None
        got = 0
        while time.monotonic() - started < 15:
            try:
                chunk = s.recv(1000)
            except ConnectionResetError:
                ended = time.monotonic()
                break
            if not chunk:
                ended = time.monotonic()
                break
            got += len(chunk)
            time.sleep(0.02)  # the slow reader: 50 KB/s at most
        assert ended is not None, f"still served after {got} bytes"
        assert got < 2_000_000
    finally:
        s.close()
    assert eventually(lambda: herd.nodes["Clark"].clients == 0)
    assert eventually(lambda: "answer not taken within 300ms, closed" in herd.log_text("Clark"))
