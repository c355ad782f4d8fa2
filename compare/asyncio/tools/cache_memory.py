"""Memory per cached client id of a real herd-asyncio process: its RSS
(/proc/PID/status VmRSS) with an empty cache and after N IAMATs from N
distinct ids, over one connection, answers read back. Linux only.

    compare/asyncio/.venv/bin/python compare/asyncio/tools/cache_memory.py [N]
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(HERE, "herd-asyncio")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.mkdtemp()
    cfg = os.path.join(tmp, "herd.toml")
    with open(cfg, "w") as f:
        f.write(f'[[server]]\nname = "Clark"\naddr = "127.0.0.1:{port}"\n')
    proc = subprocess.Popen([LAUNCHER, "node", "Clark", "--config", cfg, "--log-dir", tmp],
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        time.sleep(1)
        empty = rss_kib(proc.pid)
        now = time.time_ns()
        batch = 1000
        with sock:
            for start in range(0, n, batch):
                lines = "".join(
                    f"IAMAT client-{i:07d}.cs.ucla.edu +34.068930-118.445127 "
                    f"{(now - i) // 10**9}.{(now - i) % 10**9:09d}\n"
                    for i in range(start, min(n, start + batch))
                ).encode()
                sock.sendall(lines)
                want = lines.count(b"\n")
                got = 0
                while got < want:
                    chunk = sock.recv(1 << 20)
                    if not chunk:
                        raise RuntimeError("closed")
                    got += chunk.count(b"\n")
        time.sleep(1)
        full = rss_kib(proc.pid)
        print(f"herd-asyncio RSS: empty cache {empty} KiB, {n} ids {full} KiB: "
              f"{(full - empty) * 1024 / n:.0f} bytes per cached id")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


if __name__ == "__main__":
    main()
