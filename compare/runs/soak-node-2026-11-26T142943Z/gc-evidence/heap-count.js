'use strict';
// Counts a V8 heap snapshot's objects by constructor name, for the kinds a
// client connection owns: `node heap-count.js Heap.*.heapsnapshot`.
const fs = require('node:fs');
const snap = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const width = fields.length;
const typeAt = fields.indexOf('type');
const nameAt = fields.indexOf('name');
const counts = new Map();
for (let i = 0; i < snap.nodes.length; i += width) {
  if (types[snap.nodes[i + typeAt]] !== 'object') continue;
  const name = snap.strings[snap.nodes[i + nameAt]];
  counts.set(name, (counts.get(name) || 0) + 1);
}
for (const k of ['Socket', 'TCP', 'Timeout', 'LineFramer', 'WriteWrap', 'ShutdownWrap']) console.log(k, counts.get(k) || 0);
