# For the slowest sender-stage delays: how the line arrived, and what the link did meanwhile.
import sys, glob, os, bisect
from datetime import datetime
d = sys.argv[1]
port = {'23331':'Bernard','23332':'Clark','23333':'Jaquez','23334':'Johnson','23335':'Juzang'}
def ts(s): return datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()
recv, sent, linksends = {}, {}, {}
for f in glob.glob(os.path.join(d, '*.log')):
    node = os.path.basename(f)[:-4]
    for line in open(f, errors='replace'):
        p = line.split(' ')
        if len(p) < 5: continue
        dirn, addr, cmd = p[1], p[2], p[3]
        if dirn == '>' and cmd == 'AT':
            to = port.get(addr.rsplit(':',1)[1])
            if to:
                t = ts(p[0]); linksends.setdefault((node,to), []).append(t)
                if len(p) > 7 and p[6].startswith('lgp'): sent.setdefault((node,to,p[6]), t)
        elif dirn == '<' and len(p) > 4 and (p[4].startswith('lgp') or (len(p)>6 and p[6].startswith('lgp'))):
            c = p[4] if cmd == 'IAMAT' else p[6]
            if c.startswith('lgp'): recv.setdefault((node,c), (ts(p[0]), cmd))
rows = []
for (a,b,c), t in sent.items():
    if (a,c) in recv:
        t0, how = recv[(a,c)]
        rows.append((t-t0, a, b, how, t0, t))
rows.sort()
for dt, a, b, how, t0, t in rows[-15:]:
    ls = linksends[(a,b)]
    i, j = bisect.bisect_right(ls, t0), bisect.bisect_left(ls, t)
    gaps = [y-x for x,y in zip(ls[i-1:j], ls[i:j+1])]
    print(f"{dt*1e3:6.1f} ms {a}->{b} via {how:5s} link sends in between: {j-i:4d}, largest gap {max(gaps)*1e3 if gaps else 0:.1f} ms")
n_iamat = [r for r in rows if r[3]=='IAMAT']; n_at = [r for r in rows if r[3]=='AT']
q=lambda xs,p: sorted(xs)[int(p*len(xs))]*1e3
print('IAMAT hop p99', q([r[0] for r in n_iamat],.99), 'AT hop p99', q([r[0] for r in n_at],.99))
