"""What sched_yield costs a thread on a busy CPU, on this kernel.

Pins K busy loops and one probe process to one CPU. The probe repeats: about
WORK_US of work, then either sched_yield() ("yield") or nothing ("plain",
the kernel preempts it as it likes). Prints the probe's share of the CPU
(fair share: 1/(K+1)) and, for "yield", how long each sched_yield() call took
(for "plain", the wait between the end of one piece of work and the next).
usage: yield_probe.py CPU K SECONDS
"""
import os, subprocess, sys, time

cpu, k, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
WORK_US = 20

def probe(mode):
    os.sched_setaffinity(0, {cpu})
    gaps, end = [], time.monotonic() + secs
    c0 = time.process_time()
    last = time.monotonic()
    while last < end:
        t = time.monotonic()
        gaps.append(t - last)          # plain: from the end of the last work to now
        stop = t + WORK_US / 1e6
        while time.monotonic() < stop:
            pass
        before = time.monotonic()
        if mode == "yield":
            os.sched_yield()
        last = time.monotonic()
        gaps[-1] = last - before if mode == "yield" else gaps[-1]
    share = (time.process_time() - c0) / secs
    gaps.sort()
    q = lambda p: gaps[min(len(gaps) - 1, int(p * len(gaps)))] * 1e3
    return share, q(0.5), q(0.99), gaps[-1] * 1e3, len(gaps)

busy = [subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", "while 1: pass"]) for _ in range(k)]
try:
    time.sleep(0.5)
    for mode in ["plain", "yield", "plain", "yield"]:
        share, p50, p99, mx, n = probe(mode)
        print(f"{mode:5s} K={k}: CPU share {share*100:5.2f}% (fair {100/(k+1):.2f}%), "
              f"{n} pieces of work, wait before the next: p50 {p50:.3f} ms, p99 {p99:.2f} ms, max {mx:.1f} ms")
finally:
    for b in busy:
        b.kill()
