"""Durable stores (PROTOCOL §8) are the Rust builds' alone: this build reads
``[store]`` and other servers' ``store_dir`` and refuses a store of its own,
before any port opens. Real ``herd-asyncio`` processes on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess

import pytest
from conftest import LAUNCHER, ask, eventually, free_port, now_text

from herd import config as c


def _herd(tmp_path, port: int, head: str = "", solo: str = "", other: str = ""):
    """herd.toml: ``head``, then Solo on ``port`` and Other (no links)."""
    cfg = tmp_path / "herd.toml"
    cfg.write_text(
        f'{head}\n[[server]]\nname = "Solo"\naddr = "127.0.0.1:{port}"\n{solo}\n'
        f'[[server]]\nname = "Other"\naddr = "127.0.0.1:{free_port()}"\n{other}\n'
    )
    return cfg


def _run(tmp_path, cfg, *flags: str) -> subprocess.CompletedProcess:
    logs = tmp_path / "logs"
    return subprocess.run([LAUNCHER, "node", "Solo", "--config", str(cfg), "--log-dir", str(logs), *flags],
                          capture_output=True, timeout=60)


REFUSAL = ("herd: Solo: this build keeps its cache in memory only; {what} needs the blocking or "
           "tokio build (PROTOCOL §8)\n")


@pytest.mark.parametrize("solo,flags,what", [
    ("", ["--store-dir", "store"], "--store-dir"),
    ('store_dir = "store"', [], "store_dir in its [[server]] table"),
])
def test_a_store_of_its_own_is_refused_before_the_port_opens(tmp_path, solo, flags, what):
    # The test holds the node's port: a node that got as far as binding
    # would exit 1 ("cannot listen"), so exit 2 with the refusal shows the
    # refusal comes first.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        run = _run(tmp_path, _herd(tmp_path, port, solo=solo), *flags)
    assert run.returncode == 2, run
    assert run.stderr.decode() == REFUSAL.format(what=what)
    assert run.stdout == b""
    assert not (tmp_path / "logs").exists() and not (tmp_path / "store").exists()
    # And with the port free: still refused, and nothing listens there.
    port = free_port()
    run = _run(tmp_path, _herd(tmp_path, port, solo=solo), *flags)
    assert (run.returncode, run.stderr.decode()) == (2, REFUSAL.format(what=what))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_store_table_and_another_servers_store_dir_start_and_answer(tmp_path):
    port = free_port()
    cfg = _herd(tmp_path, port, head='[store]\nsync = "never"', other='store_dir = "/var/lib/herd/Other"')
    proc = subprocess.Popen([LAUNCHER, "node", "Solo", "--config", str(cfg), "--log-dir", str(tmp_path / "logs"),
                             "--store-sync", "always"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def answer(data: bytes) -> bytes:
            try:
                return ask(("127.0.0.1", port), data, timeout=5)
            except OSError:
                return b""

        assert eventually(lambda: answer(b"HELLO\n") == b"? HELLO\n", 60)
        sent = now_text()
        got = answer(f"IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 {sent}\n".encode())
        assert got.startswith(b"AT Solo +") and got.endswith(f" kiwi.cs.ucla.edu +34.068930-118.445127 {sent}\n".encode())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("head,flags,expected", [
    ('[store]\nsync = "sometimes"', [],
     '[store] sync "sometimes" is unknown (use "always", "everysec" or "never")'),
    ('[store]\nsync = "never"\ndir = "x"', [], "unknown field `dir`, expected one of `sync`"),
    ("[store]\nsync = 1", [], "expected a string"),
    ("", ["--store-sync", "sometimes"],
     'argument --store-sync: invalid value \'sometimes\': "sometimes" is not always, everysec or never'),
])
def test_a_bad_store_setting_is_a_config_error(tmp_path, head, flags, expected):
    run = _run(tmp_path, _herd(tmp_path, free_port(), head=head), *flags)
    assert run.returncode == 2, run
    assert run.stderr.startswith(b"herd: ") and run.stderr.count(b"\n") == 1, run.stderr
    assert expected in run.stderr.decode()
    assert not (tmp_path / "logs").exists()


def test_store_config_is_parsed_and_checked():
    one = '[[server]]\nname = "A"\naddr = "127.0.0.1:1"\n'
    other = '[[server]]\nname = "B"\naddr = "127.0.0.1:2"\nstore_dir = "b"\n'
    assert c.parse(one, c.Overrides()).store_sync == "everysec"
    cfg = c.parse('[store]\nsync = "never"\n' + one + other, c.Overrides())
    assert cfg.store_sync == "never"
    assert (cfg.server("A").store_dir, cfg.server("B").store_dir) == (None, "b")
    # --store-sync beats the file.
    assert c.parse('[store]\nsync = "never"\n' + one, c.Overrides(store_sync="always")).store_sync == "always"
    with pytest.raises(c.ConfigError) as e:
        c.parse(one + '[[server]]\nname = "B"\naddr = "127.0.0.1:2"\nstore_dir = ""\n', c.Overrides())
    assert str(e.value) == 'server "B": store_dir is empty'
    with pytest.raises(c.ConfigError) as e:
        c.parse(one + '[[server]]\nname = "B"\naddr = "127.0.0.1:2"\nstore_dir = 5\n', c.Overrides())
    assert "expected a string" in str(e.value)


def test_help_lists_the_store_flags():
    run = subprocess.run([LAUNCHER, "node", "--help"], capture_output=True, timeout=60,
                         env=dict(os.environ, COLUMNS="80"))
    assert run.returncode == 0
    lines = run.stdout.decode().splitlines()
    store_dir = [line for line in lines if line.lstrip().startswith("--store-dir")]
    store_sync = [line for line in lines if line.lstrip().startswith("--store-sync")]
    assert len(store_dir) == 1 and "not supported in this build" in store_dir[0]
    assert len(store_sync) == 1 and "no effect in this build" in store_sync[0]
