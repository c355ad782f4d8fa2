import sys, collections
for d in sys.argv[1:]:
    agg = collections.defaultdict(lambda: [0,0,0,0,0,0])
    for line in open(d+'/threads.txt'):
        p = line.split()
        comm = p[1]; kind = comm.split('-')[0] if '-' in comm else comm
        vals = dict(zip(p[2::2], p[3::2]))
        nums = [int(x) for x in p if x.isdigit()]
        # format: pid comm syscr: N syscw: N utime stime voluntary_ctxt_switches: N nonvoluntary_ctxt_switches: N
        syscr = int(p[3]); syscw = int(p[5]); ut = int(p[6]); st = int(p[7]); vol = int(p[9]); inv = int(p[11])
        a = agg[kind]; a[0]+=1; a[1]+=syscr; a[2]+=syscw; a[3]+=ut+st; a[4]+=vol; a[5]+=inv
    print('==', d)
    for k, a in sorted(agg.items(), key=lambda x: -x[1][3]):
        print(f"  {k:10s} threads={a[0]:4d} reads={a[1]:8d} writes={a[2]:8d} cpu_s={a[3]/100:6.1f} vol={a[4]:8d} invol={a[5]:7d}")
