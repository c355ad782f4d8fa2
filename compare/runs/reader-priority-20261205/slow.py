exec(open('/tmp/diag/hops.py').read().split("clients = sorted")[0])
clients = sorted({c for (n,c) in recv if n=='Bernard'})
res=[]
for c in clients:
    t0 = recv[('Bernard', c)]
    res.append((max(recv.get((n,c),t0)-t0 for n in ['Clark','Jaquez','Johnson','Juzang']), c, t0))
res.sort()
for tot, c, t0 in res[-6:]:
    print(f"probe {c} total {tot*1e3:.1f} ms")
    ev = [(recv[(n,c)]-t0, f"recv {n}") for n in port.values() if (n,c) in recv]
    ev += [(t-t0, f"sent {a}->{b}") for (a,b,cc),t in sent.items() if cc==c]
    for t, e in sorted(ev): print(f"   {t*1e3:8.2f} {e}")
