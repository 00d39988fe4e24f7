// Runs stability-sim's built-in examples headless and prints per-second counts as JSON.
//
// usage: node stability_sim.cjs PEER_DIR TYPESCRIPT_DIR OUT_DIR [--seeds=N] [EXAMPLE_ID ...]
//
// PEER_DIR is a checkout of marcbrooker/stability-sim, TYPESCRIPT_DIR the folder of the
// `typescript` package (the peer's own dev dependency). The peer's engine, examples and types are
// transpiled into OUT_DIR as CommonJS and driven the way its web worker drives them
// (src/engine/worker.ts: buildComponent, handleStart, engine.step() until done), without pacing.
// Per example the output holds, on a 1 s grid keyed by a request's arrival second: `offered`
// (new requests, retries excluded) and `good` (requests the client saw succeed, before its
// timeout), plus the number of events and the wall time of the event loop alone. With --seeds=N
// each example runs N times, with its own seed plus 0..N-1 (the worker's seed override).
'use strict';

const fs = require('fs');
const path = require('path');

function transpileTree(ts, srcRoot, outRoot, rel) {
  const here = path.join(srcRoot, rel);
  for (const name of fs.readdirSync(here)) {
    const full = path.join(here, name);
    const relName = path.join(rel, name);
    if (fs.statSync(full).isDirectory()) {
      transpileTree(ts, srcRoot, outRoot, relName);
      continue;
    }
    if (!name.endsWith('.ts') || name.endsWith('.test.ts') || name.endsWith('.d.ts')) continue;
    const out = ts.transpileModule(fs.readFileSync(full, 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
      fileName: full,
    });
    const dest = path.join(outRoot, relName.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, out.outputText);
  }
}

function main() {
  const [peerDir, tsDir, outDir, ...rest] = process.argv.slice(2);
  if (!peerDir || !tsDir || !outDir) {
    process.stderr.write('usage: node stability_sim.cjs PEER_DIR TYPESCRIPT_DIR OUT_DIR [--seeds=N] [EXAMPLE_ID ...]\n');
    process.exit(2);
  }
  let seeds = 1;
  const only = [];
  for (const arg of rest) {
    if (arg.startsWith('--seeds=')) seeds = Number(arg.slice('--seeds='.length));
    else only.push(arg);
  }
  if (!Number.isInteger(seeds) || seeds < 1) {
    process.stderr.write('--seeds must be an integer >= 1\n');
    process.exit(2);
  }
  const ts = require(path.resolve(tsDir));
  const src = path.join(path.resolve(peerDir), 'src');
  const out = path.resolve(outDir);
  for (const sub of ['engine', 'types', 'examples']) {
    transpileTree(ts, src, out, sub);
  }
  fs.writeFileSync(path.join(out, 'package.json'), '{"type": "commonjs"}\n');

  const { SimulationEngine } = require(path.join(out, 'engine/simulation-engine.js'));
  const { FailureInjector } = require(path.join(out, 'engine/failure-injector.js'));
  const { Client } = require(path.join(out, 'engine/components/client.js'));
  const { Server } = require(path.join(out, 'engine/components/server.js'));
  const { Queue } = require(path.join(out, 'engine/components/queue.js'));
  const { Cache } = require(path.join(out, 'engine/components/cache.js'));
  const { LoadBalancer } = require(path.join(out, 'engine/components/load-balancer.js'));
  const { Database } = require(path.join(out, 'engine/components/database.js'));
  const { Throttle } = require(path.join(out, 'engine/components/throttle.js'));
  const { EXAMPLES } = require(path.join(out, 'examples/index.js'));

  // The worker's buildComponent (src/engine/worker.ts).
  const ctor = {
    client: Client, server: Server, queue: Queue, cache: Cache,
    'load-balancer': LoadBalancer, database: Database, throttle: Throttle,
  };
  function buildComponent(def) {
    const { type, ...cfg } = def.config;
    const C = ctor[type];
    if (!C) throw new Error(`unknown component type: ${type}`);
    return new C(def.id, cfg);
  }

  // Per-second counters, filled by wrapping the client's event handler (observation only).
  let offered = [];
  let good = [];
  const bump = (arr, t) => {
    const k = Math.floor(t);
    while (arr.length <= k) arr.push(0);
    arr[k] += 1;
  };
  const handle = Client.prototype.handleEvent;
  Client.prototype.handleEvent = function (event, context) {
    const inFlight = this.inFlightCount;
    const completed = this.completedCount;
    const isNew = event.kind === 'arrival' && event.targetComponentId === this.id;
    const result = handle.call(this, event, context);
    if (isNew && this.inFlightCount > inFlight) bump(offered, event.timestamp);
    if (this.completedCount > completed) bump(good, event.workUnit.createdAt);
    return result;
  };

  const results = [];
  for (const ex of EXAMPLES) {
    if (only.length > 0 && !only.includes(ex.id)) continue;
    for (let k = 0; k < seeds; k++) results.push(runExample(ex, ex.simulationConfig.seed + k));
  }
  process.stdout.write(JSON.stringify({ examples: results }) + '\n');

  function runExample(ex, seed) {
    offered = [];
    good = [];
    const arch = ex.architecture;
    const config = { ...ex.simulationConfig, seed };
    const components = arch.components.map(buildComponent);
    const engine = new SimulationEngine(components, arch.connections, config);
    const injector = new FailureInjector();
    engine.setFailureInjector(injector);
    injector.scheduleFailures(config.failureScenarios, (e) => engine.scheduleEvent(e), () => engine.nextId());
    // The worker's handleStart context for the clients' first events.
    const context = {
      currentTime: 0,
      scheduleEvent: (e) => engine.scheduleEvent(e),
      getComponent: (id) => components.find((c) => c.id === id),
      getDownstream: (id) => arch.connections.filter((c) => c.sourceId === id).map((c) => c.targetId),
      random: () => engine.getRng().random(),
      nextId: () => engine.nextId(),
      recordMetric: (id, name, value, time) => engine.getMetrics().record(id, name, value, time),
    };
    for (const c of components) {
      if (c instanceof Client) {
        for (const e of c.generateInitialEvents(context)) engine.scheduleEvent(e);
      }
    }
    let events = 0;
    const t0 = process.hrtime.bigint();
    while (!engine.step()) events += 1;
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const n = Math.ceil(config.endTime);
    const pad = (a) => { while (a.length < n) a.push(0); return a.slice(0, n); };
    return {
      id: ex.id,
      name: ex.name,
      seed: config.seed,
      end_time: config.endTime,
      events,
      wall_seconds: wall,
      offered: pad(offered),
      good: pad(good),
      failures: config.failureScenarios,
      components: arch.components.map((c) => ({ id: c.id, config: c.config })),
    };
  }
}

main();
