"""PROTOCOL §4 logs: WHATSAT summary entries, size rotation, SIGHUP reopen."""

from __future__ import annotations

import os
import re
import signal
import subprocess

from conftest import LAUNCHER, ask, eventually, free_port, now_text

from herd.config import LogConfig

ENTRY = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [<>*] ")


def test_a_whatsat_answer_is_logged_as_one_summary_entry(node):
    herd, addr = node
    iamat = ask(addr, f"IAMAT kiwi +34.068930-118.445127 {now_text()}\n".encode()).rstrip(b"\n")
    answer = ask(addr, b"WHATSAT kiwi 10 2\n")
    assert answer.count(b'"name" :') == 2
    summary = iamat.decode() + f" [answer: OK, 2 results, {len(answer)} bytes]"
    assert eventually(lambda: summary in herd.log_text("Clark"))
    entry = next(line for line in herd.log_text("Clark").splitlines() if "[answer:" in line)
    assert re.fullmatch(r"\S+ > 127\.0\.0\.1:\d+ " + re.escape(summary), entry), entry
    assert "html_attributions" not in herd.log_text("Clark")
    # A client nobody knows is an invalid line, logged as such.
    assert ask(addr, b"WHATSAT nobody 10 2\n") == b"? WHATSAT nobody 10 2\n"
    assert eventually(lambda: "> 127.0.0.1:" in herd.log_text("Clark") and "? WHATSAT nobody" in herd.log_text("Clark"))


def test_log_answers_logs_the_whole_answer(herd_factory):
    herd = herd_factory({"Clark": []}, log=LogConfig(answers=True))
    addr = herd.addrs["Clark"]
    ask(addr, f"IAMAT kiwi +34.068930-118.445127 {now_text()}\n".encode())
    ask(addr, b"WHATSAT kiwi 10 2\n")
    assert eventually(lambda: '\\n   \\"html_attributions\\" : []' in herd.log_text("Clark")
                      or '"html_attributions" : []' in herd.log_text("Clark"))
    assert "[answer:" not in herd.log_text("Clark")


def _entries(path) -> list[bytes]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    lines = data[:-1].split(b"\n")
    for line in lines:
        assert ENTRY.match(line), line[:80]
    return lines


def test_logs_rotate_by_size_whole_entries_and_keep_k(tmp_path, herd_factory):
    (tmp_path / "Clark.log").write_bytes(b"2026-01-01T00:00:00.000000Z * an older run\n" * 45)  # 1980 bytes
    herd = herd_factory({"Clark": []}, log=LogConfig(max_bytes=2000, keep=2))
    addr = herd.addrs["Clark"]
    # The old file's size counted: the start notice went into a fresh file.
    assert (tmp_path / "Clark.log.1").read_bytes().count(b"an older run") == 45
    for n in range(30):
        assert ask(addr, f"HELLO number {n} {'x' * 40}\n".encode()).startswith(b"? HELLO")
    big = b"B" * 2500
    assert ask(addr, big + b"\n") == b"? " + big + b"\n"
    assert ask(addr, b"AFTER\n") == b"? AFTER\n"

    def settled():
        return b"? AFTER" in (tmp_path / "Clark.log").read_bytes()

    assert eventually(settled)
    assert not (tmp_path / "Clark.log.3").exists()
    files = [tmp_path / "Clark.log", tmp_path / "Clark.log.1", tmp_path / "Clark.log.2"]
    for path in files:
        entries = _entries(path)
        if any(b"B" * 2500 in e for e in entries):
            assert len(entries) == 1  # larger than the limit: alone in its file
        else:
            assert path.stat().st_size <= 2000, path
    assert b"an older run" not in b"".join(p.read_bytes() for p in files)  # the oldest was deleted


def test_sighup_reopens_the_log_and_does_not_stop_the_node(tmp_path):
    port = free_port()
    cfg = tmp_path / "herd.toml"
    cfg.write_text(f'[[server]]\nname = "Clark"\naddr = "127.0.0.1:{port}"\n')
    proc = subprocess.Popen([LAUNCHER, "node", "Clark", "--config", str(cfg), "--log-dir", str(tmp_path)],
                            stderr=subprocess.PIPE)
    addr = ("127.0.0.1", port)

    def answer(data: bytes) -> bytes:
        try:
            return ask(addr, data, timeout=5)
        except OSError:
            return b""

    try:
        assert eventually(lambda: answer(b"BEFORE\n") == b"? BEFORE\n", 60)
        log = tmp_path / "Clark.log"
        assert eventually(lambda: b"? BEFORE" in log.read_bytes())
        os.rename(log, tmp_path / "Clark.log.moved")  # as logrotate does
        proc.send_signal(signal.SIGHUP)
        assert eventually(lambda: log.exists() and b"log reopened" in log.read_bytes())
        assert proc.poll() is None
        assert answer(b"AFTER\n") == b"? AFTER\n"
        assert eventually(lambda: b"? AFTER" in log.read_bytes())
        entries = _entries(log)
        assert entries[0].endswith(b" * log reopened"), entries[0]
        moved = (tmp_path / "Clark.log.moved").read_bytes()
        assert b"? BEFORE" in moved and b"AFTER" not in moved
        proc.send_signal(signal.SIGHUP)  # a second one, file in place
        assert eventually(lambda: log.read_bytes().count(b"log reopened") == 2)
        assert answer(b"STILL\n") == b"? STILL\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
