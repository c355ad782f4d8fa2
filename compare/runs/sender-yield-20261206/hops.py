import sys, re, glob, os, statistics as st
from datetime import datetime
d = sys.argv[1]
port = {'23331':'Bernard','23332':'Clark','23333':'Jaquez','23334':'Johnson','23335':'Juzang'}
def ts(s): return datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()
recv = {}   # (node, client) -> t
sent = {}   # (node, to, client) -> t
for f in glob.glob(os.path.join(d, '*.log')):
    node = os.path.basename(f)[:-4]
    for line in os.popen(f"grep -a ' lgp' {f}"):
        p = line.split(' ')
        if len(p) < 5: continue
        t, dirn, addr, cmd = p[0], p[1], p[2], p[3]
        if cmd == 'IAMAT' and dirn == '<':
            recv[(node, p[4])] = ts(t)
        elif cmd == 'AT' and len(p) > 7:
            client = p[6]
            if dirn == '<':
                recv.setdefault((node, client), ts(t))
            elif dirn == '>':
                to = port.get(addr.rsplit(':',1)[1])
                if to: sent.setdefault((node, to, client), ts(t))
clients = sorted({c for (n,c) in recv if n=='Bernard'})
# per hop: sender delay (recv at A -> sent A->B) and wire delay (sent A->B -> recv at B)
sd, wd, tot = [], [], []
worst = []
for c in clients:
    t0 = recv[('Bernard', c)]
    slow = 0
    for n in ['Clark','Jaquez','Johnson','Juzang']:
        if (n,c) in recv: slow = max(slow, recv[(n,c)] - t0)
    tot.append(slow)
    for (a,b,cc), t in sent.items():
        pass
for (a,b,c), t in sent.items():
    if (a,c) in recv:
        sd.append((t - recv[(a,c)], a, b, c))
    if (b,c) in recv:
        wd.append((recv[(b,c)] - t, a, b, c))
def q(xs, p): xs=sorted(xs); return xs[min(len(xs)-1,int(p*len(xs)))]
for name, xs in [('sender (recv->sent)', [x[0] for x in sd]), ('wire+reader (sent->recv)', [x[0] for x in wd if x[0] > -1]), ('all servers', tot)]:
    print(f"{name:28s} n={len(xs)} p50={q(xs,.5)*1e3:.2f} p90={q(xs,.9)*1e3:.2f} p99={q(xs,.99)*1e3:.2f} max={max(xs)*1e3:.2f} ms")
