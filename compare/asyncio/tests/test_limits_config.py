"""Issue 13's limits and log settings (PROTOCOL §4, §5): config keys, flags,
defaults and the errors for a 0."""

from __future__ import annotations

import subprocess

import pytest

from herd import config as c
from herd.__main__ import parser
from conftest import LAUNCHER

ONE = '[[server]]\nname = "A"\naddr = "127.0.0.1:1"\n'


def test_defaults_are_the_protocol_table():
    limits = c.parse(ONE, c.Overrides()).limits
    assert limits.write_timeout_ms == 10_000
    assert limits.max_clock_ahead_ms == 60_000
    assert limits.max_cached_clients == 1_000_000
    log = c.parse(ONE, c.Overrides()).log
    assert (log.max_bytes, log.keep, log.answers) == (0, 5, False)


def test_limits_and_log_keys_and_flags_beat_the_file():
    cfg = c.parse(ONE + "[limits]\nwrite_timeout_ms = 5\nmax_clock_ahead_ms = 7\nmax_cached_clients = 9\n"
                  "[log]\nmax_bytes = 1000\nkeep = 2\nanswers = true\n", c.Overrides())
    assert (cfg.limits.write_timeout_ms, cfg.limits.max_clock_ahead_ms, cfg.limits.max_cached_clients) == (5, 7, 9)
    assert (cfg.log.max_bytes, cfg.log.keep, cfg.log.answers) == (1000, 2, True)
    args = parser().parse_args(["node", "A", "--write-timeout-ms", "11", "--max-clock-ahead-ms", "12",
                                "--max-cached-clients", "13", "--log-max-bytes", "0", "--log-keep", "1",
                                "--log-answers"])
    from herd.__main__ import overrides_from

    cfg = c.parse(ONE + "[limits]\nmax_cached_clients = 9\n[log]\nmax_bytes = 1000\nkeep = 2\n",
                  overrides_from(args))
    assert (cfg.limits.write_timeout_ms, cfg.limits.max_clock_ahead_ms, cfg.limits.max_cached_clients) == (11, 12, 13)
    assert (cfg.log.max_bytes, cfg.log.keep, cfg.log.answers) == (0, 1, True)


@pytest.mark.parametrize("text,expected", [
    ("[limits]\nwrite_timeout_ms = 0\n", "[limits] write_timeout_ms must be more than 0"),
    ("[limits]\nmax_clock_ahead_ms = 0\n", "[limits] max_clock_ahead_ms must be more than 0"),
    ("[limits]\nmax_cached_clients = 0\n", "[limits] max_cached_clients must be more than 0"),
    ("[log]\nkeep = 0\n", "[log] keep must be more than 0"),
    ("[log]\nrotate = 1\n", "unknown field `rotate`"),
    ("[log]\nanswers = 1\n", "expected a boolean"),
    ("[log]\nmax_bytes = -1\n", "max_bytes"),
])
def test_a_zero_or_an_unknown_key_is_one_clear_line(text, expected):
    with pytest.raises(c.ConfigError) as e:
        c.parse(ONE + text, c.Overrides())
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_log_max_bytes_0_is_no_rotation():
    assert c.parse(ONE + "[log]\nmax_bytes = 0\n", c.Overrides()).log.max_bytes == 0


@pytest.mark.parametrize("flag", ["--write-timeout-ms", "--max-clock-ahead-ms", "--max-cached-clients",
                                  "--log-keep"])
def test_cli_a_zero_flag_exits_2_with_one_line(tmp_path, flag):
    run = subprocess.run([LAUNCHER, "node", "Clark", flag, "0", "--log-dir", str(tmp_path)],
                         capture_output=True, timeout=60)
    assert run.returncode == 2, run
    assert run.stderr.startswith(b"herd: ") and run.stderr.count(b"\n") == 1, run.stderr
    assert b"must be more than 0" in run.stderr
