'use strict';
// Hostile input against a real node process (issue 13): a pipelined burst
// must not stall other clients, an id flood must not kill the process, and
// the server's clock must not lag the real-time clock.
const test = require('node:test');
const assert = require('node:assert/strict');
const { connect, eventually } = require('./helpers');
const { spawnSync } = require('node:child_process');
const { spawnSolo } = require('./proc');

const NOW = () => (Date.now() / 1000).toFixed(9);

/** One IAMAT round trip on `client`; resolves with its milliseconds. */
async function roundTrip(client, id) {
  const started = performance.now();
  client.send(`IAMAT ${id} +34.068930-118.445127 ${NOW()}\n`);
  const line = await client.line(10000);
  assert.match(line || '', /^AT Solo /);
  return performance.now() - started;
}

test('a pipelined WHATSAT burst does not stall another client', async (t) => {
  const solo = await spawnSolo(t);
  const burst = await connect(solo.port);
  burst.send(`IAMAT g +34.068930-118.445127 ${NOW()}\n`);
  assert.match(await burst.line(), /^AT Solo /);
  // The bursting client reads everything it is sent, as fast as it can.
  let answered = 0;
  burst.socket.removeAllListeners('data');
  let carry = '';
  burst.socket.on('data', (d) => {
    const text = carry + d.toString('latin1');
    const parts = text.split('\n\n');
    carry = parts.pop();
    answered += parts.length;
  });
  const lines = Math.floor(65536 / 'WHATSAT g 50 20\n'.length);
  burst.send('WHATSAT g 50 20\n'.repeat(lines));
  const other = await connect(solo.port);
  const trips = [];
  // Round trips while the burst is being answered (and a few after).
  while (answered < lines && trips.length < 400) trips.push(await roundTrip(other, `o${trips.length}`));
  assert.ok(await eventually(() => answered === lines, 30000), `burst answered: ${answered} of ${lines}`);
  const worst = Math.max(...trips);
  assert.ok(trips.length >= 2, `round trips during the burst: ${trips.length}`);
  assert.ok(worst < 500, `worst IAMAT round trip during the burst: ${worst.toFixed(1)} ms over ${trips.length}`);
  burst.close();
  other.close();
});

test('an id flood far past max_cached_clients leaves a small-heap node alive, newest ids cached', async (t) => {
  // No offline data set (a Google provider that is never asked), so the
  // heap holds little besides the cache.
  const solo = await spawnSolo(t, {
    toml: '[places]\nprovider = "google"\nurl = "http://127.0.0.1:9/"\n',
    env: { PLACES_API_KEY: 'unused' },
    v8: ['--max-old-space-size=16', '--max-semi-space-size=1'],
    args: ['--max-cached-clients', '2000'],
  });
  const c = await connect(solo.port);
  // Count answer lines as they come (the node never waits on us).
  let answers = 0;
  c.socket.removeAllListeners('data');
  c.socket.on('data', (d) => {
    for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) answers++;
  });
  const ids = 100000;
  const per = 10000;
  const base = 1700000000;
  for (let sent = 0; sent < ids && solo.alive(); sent += per) {
    let text = '';
    for (let i = sent; i < sent + per; i++) text += `IAMAT flood-id-number-${i} +34.068930-118.445127 ${base + i}.000000001\n`;
    c.send(text);
    if (!(await eventually(() => answers >= sent + per || !solo.alive(), 20000))) break;
  }
  assert.ok(solo.alive(), `the node died: ${JSON.stringify(solo.exit())}; stderr: ${solo.stderr().slice(-400)}`);
  // Still answering, and the newest ids are the ones kept.
  const w = await connect(solo.port);
  w.send(`WHATSAT flood-id-number-${ids - 1} 1 1\nWHATSAT flood-id-number-0 1 1\n`);
  assert.match(await w.line(10000), new RegExp(`^AT Solo [+-][0-9.]+ flood-id-number-${ids - 1} `));
  const rest = await w.answerUntilBlank(10000);
  assert.ok(rest.length > 0, 'a WHATSAT answer');
  assert.equal(await w.line(10000), `? WHATSAT flood-id-number-0 1 1`);
  c.close();
  w.close();
});

const CLOCK_CLIENT = `
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
worst = 0
for i in range(300):
    ns = time.time_ns()
    s.sendall(b"IAMAT clock +34.068930-118.445127 %d.%09d\\n" % (ns // 10**9, ns % 10**9))
    diff = f.readline().split()[2].decode()
    nanos = int(diff.replace(".", "").replace("+", ""))
    worst = min(worst, nanos)
    if i % 30 == 0:
        time.sleep(0.0013)  # other phases of the millisecond
print(worst)
`;

test('the server clock never lags the real-time clock by a millisecond', async (t) => {
  const py = spawnSync('python3', ['--version']);
  if (py.status !== 0) {
    t.skip('needs python3 (time.time_ns)');
    return;
  }
  const solo = await spawnSolo(t);
  const run = spawnSync('python3', ['-c', CLOCK_CLIENT, String(solo.port)], { timeout: 30000 });
  assert.equal(run.status, 0, run.stderr.toString());
  const worst = BigInt(run.stdout.toString().trim());
  // The client's time is read before the line leaves, so the server's
  // receipt time is later in truth; it may show as earlier only by what
  // the platform's millisecond clock hides (less than 1 ms).
  assert.ok(worst > -1000000n, `server time behind the client's by ${-worst} ns`);
});

/** Preloaded into the node: SIGUSR2 steps Date.now() (the real-time clock) an hour ahead. */
const STEP = 'let o=0;const n=Date.now;Date.now=()=>n()+o;process.on("SIGUSR2",()=>{o=3600000;});';

test('a step of the real-time clock is followed at the next request', async (t) => {
  const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'herd-step-'));
  t.after(() => require('node:fs').rmSync(dir, { recursive: true, force: true }));
  const preload = require('node:path').join(dir, 'step.js');
  require('node:fs').writeFileSync(preload, STEP);
  const solo = await spawnSolo(t, { v8: ['--require', preload] });
  const c = await connect(solo.port);
  solo.child.kill('SIGUSR2');
  // Once the step is seen, an IAMAT stamped an hour ahead is about on time.
  let diff = null;
  const seen = await eventually(async () => {
    const ahead = BigInt(Date.now() + 3600000) * 1000000n;
    c.send(`IAMAT step +34.068930-118.445127 ${ahead / 1000000000n}.${(ahead % 1000000000n).toString().padStart(9, '0')}\n`);
    const line = await c.line(5000);
    // Before the step is seen it is an hour ahead: `? ` (max_clock_ahead_ms).
    if (!line.startsWith('AT ')) return false;
    diff = BigInt(line.split(' ')[2].replace('.', '').replace('+', ''));
    return diff > -1000000000n && diff < 1000000000n;
  }, 5000);
  assert.ok(seen, `after the step the server's difference is ${diff} ns`);
  c.close();
});
