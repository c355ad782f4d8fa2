# usage: cd $OUT && python3 <this folder>/curve.py   (after curve.sh)
import json, os, subprocess
# the hop splitter of the reader-priority experiment, shared
HOPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'reader-priority-20261205', 'hops.py')
rows = {}
for v in ['yield','local','none','gather50','gather200','slice400','tokio']:
    for i in (1,2,3):
        d = f'c-{v}-{i}'
        lg = json.load(open(f'{d}/loadgen.json'))
        out = subprocess.run(['python3', HOPS, d],capture_output=True,text=True).stdout.splitlines()
        def p99(line): return float(line.split('p99=')[1].split()[0])
        rows.setdefault(v, []).append((p99(out[0]), p99(out[2]), lg['load']['throughput_rps']))
tok = rows['tokio']
print('| variant | sender stage p99 (ms), rounds 1/2/3 | all servers p99 (ms) | × tokio in the same round | load req/s | × tokio |')
print('|---|---|---|---|---|---|')
for v, r in rows.items():
    f = lambda xs: ' / '.join(xs)
    print(f"| {v} | {f([f'{x[0]:.1f}' for x in r])} | {f([f'{x[1]:.1f}' for x in r])} | {f([f'{x[1]/t[1]:.1f}' for x,t in zip(r,tok)])} | {f([f'{x[2]/1000:.1f}k' for x in r])} | {f([f'{x[2]/t[2]:.2f}' for x,t in zip(r,tok)])} |")
