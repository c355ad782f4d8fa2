'use strict';
// Measures the cache's heap bytes per client id: heapUsed (after a full GC)
// with N ids cached, minus the empty cache, over N. Run:
//   node --expose-gc tools/cache-bytes.js 100000 500000
// Each id is a realistic IAMAT's canonical AT line (a 22-byte id, the
// location and time of the PROTOCOL §2 example), stored as an IAMAT does.
const protocol = require('../lib/protocol');
const { Cache, record } = require('../lib/cache');

if (typeof global.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const used = () => {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
};
for (const n of process.argv.slice(2).map(Number)) {
  const cache = new Cache(Infinity);
  const before = used();
  for (let i = 0; i < n; i++) {
    const req = protocol.parse(Buffer.from(`IAMAT kiwi-client-${String(i).padStart(10, '0')} +34.068930-118.445127 1621464827.${String(i).padStart(9, '0')}`));
    const diff = protocol.formatNanos(1621464828000000000n - req.time);
    const line = protocol.formatAt('Clark', diff, req.client, req.locationText, req.timeText);
    cache.offer(record({ line, time: req.time, client: req.client }));
  }
  const after = used();
  console.log(`${n} ids: ${((after - before) / n).toFixed(1)} heap bytes per id (cache size ${cache.size})`);
}
