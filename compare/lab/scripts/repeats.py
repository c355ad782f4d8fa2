#!/usr/bin/env python3
"""Medians and spreads of repeated herd-lab runs of the same points.

    python3 compare/lab/scripts/repeats.py RUN_DIR [RUN_DIR ...]

Reads each RUN_DIR/rows.jsonl and prints, as markdown, per build and
point: throughput (median, min-max), p99, CPU ms per 1,000 requests, the
ratio to the echo ceiling of the same run (thread echo for the blocking
builds, tokio echo for tokio; median of the per-run ratios), and the
flood-propagation figures read from the servers' logs. Nothing here is
measured: it only summarises rows that herd-lab wrote.
"""
import json
import statistics
import sys
from collections import defaultdict

ECHO = {"blocking": "echo_threads", "blocking-parked": "echo_threads", "tokio": "echo_tokio"}


def load(run):
    rows = {}
    with open(f"{run}/rows.jsonl") as f:
        for line in f:
            r = json.loads(line)
            if r.get("error"):
                continue
            key = (r["scenario"], r["point"].split(",threads=")[0])
            rows[(r["build"],) + key] = r
    return rows


def med(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None, None
    return statistics.median(xs), min(xs), max(xs)


def fmt(m, scale=1.0, digits=0):
    mid, lo, hi = m
    if mid is None:
        return "–"
    f = lambda x: f"{x * scale:,.{digits}f}"
    return f"{f(mid)} ({f(lo)}–{f(hi)})"


def main(runs):
    data = [load(r) for r in runs]
    keys = sorted({k for d in data for k in d}, key=lambda k: (k[1], k[2], k[0]))
    print(f"Runs: {', '.join(runs)} ({len(runs)}). Each cell: median (min–max) over the runs.\n")
    print("| scenario | point | build | req/s | p99 ms | CPU ms/1000 | × echo (median of runs) | propagation p50 / p99 ms (servers' logs) |")
    print("|---|---|---|---|---|---|---|---|")
    for k in keys:
        build, scenario, point = k
        rs = [d.get(k) for d in data]
        rps = med([r and (r["loadgen"] or {}).get("throughput_rps") for r in rs])
        p99 = med([r and ((r["loadgen"] or {}).get("latency_us") or {}).get("p99") for r in rs])
        cpu = med([r and r.get("cpu_ms_per_1000_requests") for r in rs])
        ratios = []
        if build in ECHO:
            for d in data:
                r, e = d.get(k), d.get((ECHO[build], scenario, point))
                a = r and (r["loadgen"] or {}).get("throughput_rps")
                b = e and (e["loadgen"] or {}).get("throughput_rps")
                if a and b:
                    ratios.append(a / b)
        ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})" if ratios else "–"
        prop = lambda p: med([r and ((r.get("derived") or {}).get("server_log_propagation") or {}).get("all_servers_us", {}).get(p) for r in rs])
        p50, p99s = prop("p50"), prop("p99")
        propagation = "–" if p50[0] is None else f"{fmt(p50, 0.001, 2)} / {fmt(p99s, 0.001, 2)}"
        print(f"| {scenario} | {point} | {build} | {fmt(rps)} | {fmt(p99, 0.001, 2)} | {fmt(cpu, 1, 1)} | {ratio} | {propagation} |")


if __name__ == "__main__":
    main(sys.argv[1:] or sys.exit(__doc__))
