import sys, glob, os
from datetime import datetime
d, node, to = sys.argv[1], sys.argv[2], sys.argv[3]
port = {'Bernard':'23331','Clark':'23332','Jaquez':'23333','Johnson':'23334','Juzang':'23335'}
def ts(s): return datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()
ev = []
for line in open(f'{d}/{node}.log', errors='replace'):
    p = line.split(' ', 4)
    if len(p) < 4: continue
    ev.append((ts(p[0]), p[1], p[2], p[3]))
ev.sort()
sends = [e for e in ev if e[1]=='>' and e[2].endswith(':'+port[to])]
gaps = sorted([(b[0]-a[0], a[0], b[0]) for a,b in zip(sends, sends[1:])])[-5:]
for g, a, b in gaps:
    inside = [e for e in ev if a < e[0] < b]
    kinds = {}
    for e in inside: kinds[(e[1], e[3])] = kinds.get((e[1], e[3]),0)+1
    # sends on other links during the gap
    others = {}
    for e in inside:
        if e[1]=='>' and e[3]=='AT' and not e[2].startswith('127.0.0.1:5'): others[e[2]] = others.get(e[2],0)+1
    print(f"gap {g*1e3:.1f} ms: events inside {len(inside)} {kinds} other links sent {others}")
    # largest silent period of the whole node inside gap
    ts_ = [a]+[e[0] for e in inside]+[b]
    print('   longest silence of the whole node:', round(max(y-x for x,y in zip(ts_,ts_[1:]))*1e3,1),'ms')
