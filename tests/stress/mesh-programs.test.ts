// Stress tests of programs on real meshes of worker threads. Random programs run through nb.partition +
// MeshExecutable and through nb.compile, forward and with gradients, and must match the unsharded
// reference run. Several compiled functions are called interleaved, and compiled functions must work
// again after injected worker faults. Device memory must return to its start level once the programs
// are disposed.
// STRESS_ITERATIONS sets how many programs (7 by default, one per mesh; `npm run test:stress` runs more).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { MeshExecutable } from "../../src/compiler/mesh/executable.js";
import { collectiveProgram } from "../../src/runtime/mesh/builders.js";
import type { DeviceProgram, Program, Step } from "../../src/runtime/mesh/program.js";
import type { Storage } from "../../src/runtime/storage.js";
import { partialOpsFor } from "../sharding/primitive-cases.js";
import { describeCase, randomData, randomSpec, referenceRun, Rng, type TestMesh } from "../sharding/spmd-support.js";
import { avalsOf, pick, randomProgram, type RandomProgram } from "./random-programs.js";

const iterations = Number(process.env.STRESS_ITERATIONS ?? 7);

const layouts: readonly TestMesh[] = [
  { shape: [1], axisNames: ["x"] },
  { shape: [2], axisNames: ["x"] },
  { shape: [3], axisNames: ["x"] },
  { shape: [4], axisNames: ["x"] },
  { shape: [2, 2], axisNames: ["x", "y"] },
  { shape: [2, 4], axisNames: ["x", "y"] },
  { shape: [8], axisNames: ["x"] },
];

const meshes: nb.DeviceMesh[] = [];
/** bytesInUse of every device of every mesh right after creation. */
const startBytes: number[][] = [];

beforeAll(async () => {
  for (const layout of layouts) {
    const mesh = await nb.DeviceMesh.create(layout.shape, layout.axisNames, { capacityBytes: 64 * 2 ** 20 });
    meshes.push(mesh);
    startBytes.push(devicesBytes(mesh));
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(meshes.map((mesh) => mesh.dispose()));
}, 60_000);

function devicesBytes(mesh: nb.DeviceMesh): number[] {
  return Array.from({ length: mesh.size }, (_, d) => mesh.memory(d).bytesInUse);
}

/** One program placed on one mesh: specs for every input and two independent sets of input values. */
interface MeshCase {
  readonly program: RandomProgram;
  readonly meshIndex: number;
  readonly specs: readonly nb.ShardingSpec[];
  readonly globals: readonly (readonly Storage[])[];
  readonly bucket: boolean;
}

function drawCase(seed: number): MeshCase {
  const rng = new Rng(seed * 104729 + 3);
  const program = randomProgram(seed);
  // Consecutive seeds cycle through the meshes, so even a short run covers every mesh.
  const meshIndex = seed % layouts.length;
  const specs = program.inputs.map((input) => randomSpec(rng, input.aval.shape.length, layouts[meshIndex], partialOpsFor(input)));
  const globals = [0, 1].map(() => program.inputs.map((input) => randomData(rng, input)));
  return { program, meshIndex, specs, globals, bucket: rng.next() < 0.5 };
}

function labelOf(c: MeshCase, gradient: boolean, path: string): string {
  const variant = `${path}${gradient ? " with gradients" : ""}`;
  return `seed ${c.program.seed} ${variant} on ${describeCase(layouts[c.meshIndex], c.specs, avalsOf(c.program))}, ops ${c.program.ops.join(" ")}`;
}

/** Describes the first element outside float32 tolerance, |a - b| <= 1e-4 (1 + |b|), or returns undefined. */
function mismatch(actual: ArrayLike<number>, expected: ArrayLike<number>): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const [a, b] = [actual[i], expected[i]];
    const bad = Number.isFinite(b) ? !(Math.abs(a - b) <= 1e-4 * (1 + Math.abs(b))) : !Object.is(a, b) && !(Number.isNaN(a) && Number.isNaN(b));
    if (bad) return `element ${i} is ${a}, expected ${b}`;
  }
  return undefined;
}

function compareOutputs(actual: readonly ArrayLike<number>[], expected: readonly Storage[], label: string, failures: string[]): void {
  if (actual.length !== expected.length) {
    failures.push(`${label}: ${actual.length} outputs, expected ${expected.length}`);
    return;
  }
  actual.forEach((values, i) => {
    const problem = mismatch(values, expected[i]);
    if (problem !== undefined) failures.push(`${label}: output ${i} ${problem}`);
  });
}

function checkMemory(meshIndex: number, label: string, failures: string[]): void {
  const now = devicesBytes(meshes[meshIndex]);
  if (now.some((bytes, d) => bytes !== startBytes[meshIndex][d])) failures.push(`${label}: device bytesInUse [${now.join(", ")}], expected [${startBytes[meshIndex].join(", ")}]`);
}

function functionOf(program: RandomProgram, gradient: boolean): (...args: Tensor[]) => unknown {
  return gradient ? program.gradient : program.forward;
}

/** Runs the case through nb.partition and a MeshExecutable, then disposes it. */
function runPartitioned(c: MeshCase, gradient: boolean, failures: string[]): void {
  const mesh = meshes[c.meshIndex];
  const graph = nb.traceGraph(functionOf(c.program, gradient), avalsOf(c.program));
  const label = labelOf(c, gradient, "partitioned");
  const program = nb.partition(graph, c.specs.map((spec) => ({ spec, mesh })), { bucketOutputReductions: c.bucket });
  const executable = new MeshExecutable(mesh, program, `stress-${c.program.seed}`, { checkReplicas: true });
  try {
    compareOutputs(executable.run(c.globals[0]), referenceRun(graph, c.globals[0]), label, failures);
  } finally {
    executable.dispose();
  }
  checkMemory(c.meshIndex, label, failures);
}

/**
 * Compile options and arguments for one case: inputs placed with nb.shard or given as inShardings, and,
 * for forward programs, sometimes requested output specs.
 */
function compileSetup(c: MeshCase, gradient: boolean, graph: nb.Graph): { options: nb.CompileOptions; place: (globals: readonly Storage[]) => Tensor[]; outSpecs?: nb.ShardingSpec[] } {
  const rng = new Rng(c.program.seed * 7 + (gradient ? 1 : 2));
  const mesh = meshes[c.meshIndex];
  const name = `stress-${c.program.seed}`;
  const outSpecs = !gradient && rng.next() < 0.4 ? graph.outputs.map((node) => randomSpec(rng, node.shape.length, layouts[c.meshIndex], [])) : undefined;
  const outShardings = outSpecs === undefined ? {} : { outShardings: outSpecs };
  const tensors = (globals: readonly Storage[]) => globals.map((data, i) => nb.tensor(data, { shape: c.program.inputs[i].aval.shape, dtype: c.program.inputs[i].aval.dtype }));
  if (rng.next() < 0.3) return { options: { name, mesh, inShardings: c.specs, ...outShardings }, place: tensors, outSpecs };
  return { options: { name, ...outShardings }, place: (globals) => tensors(globals).map((t, i) => nb.shard(t, mesh, c.specs[i])), outSpecs };
}

/** Runs the case through nb.compile twice (a miss, then a hit on new values), then clears the cache. */
function runCompiled(c: MeshCase, gradient: boolean, failures: string[]): void {
  const mesh = meshes[c.meshIndex];
  const fn = functionOf(c.program, gradient);
  const graph = nb.traceGraph(fn, avalsOf(c.program));
  const { options, place, outSpecs } = compileSetup(c, gradient, graph);
  const label = `${labelOf(c, gradient, "compiled")}${options.inShardings === undefined ? "" : " (inShardings)"}${outSpecs === undefined ? "" : `, outShardings ${outSpecs.join(" ")}`}`;
  const compiled = nb.compile(fn, options);
  try {
    for (const globals of c.globals) {
      const outputs = nb.treeFlatten(compiled(...place(globals))).leaves as Tensor[];
      compareOutputs(outputs.map((t) => t.toArray()), referenceRun(graph, globals), label, failures);
      outputs.forEach((t, i) => {
        const sharding = nb.shardingOf(t);
        if (sharding?.mesh !== mesh) failures.push(`${label}: output ${i} is not placed on the call's mesh`);
        else if (outSpecs !== undefined && sharding.spec.toString() !== outSpecs[i].toString()) failures.push(`${label}: output ${i} has spec ${sharding.spec}, expected ${outSpecs[i]}`);
      });
    }
    const { hits, misses, fallbacks } = compiled.stats;
    if (hits !== 1 || misses !== 1 || fallbacks !== 0) failures.push(`${label}: stats ${compiled.stats}, expected 1 hit and 1 miss`);
  } finally {
    compiled.clearCache();
  }
  checkMemory(c.meshIndex, label, failures);
}

/** Runs `check` on every seed and collects failures, so one bad program does not hide the others. */
function everySeed(check: (c: MeshCase, failures: string[]) => void): string[] {
  const failures: string[] = [];
  for (let seed = 1; seed <= iterations; seed++) {
    const c = drawCase(seed);
    try {
      check(c, failures);
    } catch (error) {
      failures.push(`seed ${seed} on mesh [${layouts[c.meshIndex].shape.join(", ")}]: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    }
  }
  return failures;
}

/** Builds one gradient-descent step on every float input, with the learning rate a traced JavaScript number. */
function descentStep(program: RandomProgram): (...args: (Tensor | number)[]) => Tensor[] {
  return (...args) => {
    const inputs = args.slice(0, -1) as Tensor[];
    const rate = args[args.length - 1];
    const [, grads] = program.gradient(...inputs) as [Tensor, Tensor[]];
    // Mask and index inputs come back unchanged, so they are outputs that are also inputs.
    return inputs.map((x, i) => {
      const k = program.floatInputs.indexOf(i);
      return k < 0 ? x : nb.sub(x, nb.mul(grads[k], rate));
    });
  };
}

/**
 * Runs three compiled descent steps, each on the previous step's sharded outputs, against the same
 * steps on the reference interpreter. The outputs' specs become the next call's specs, so the cache
 * must hold one entry per distinct set of argument specs, whatever the learning rate.
 */
function runDescent(c: MeshCase, failures: string[]): void {
  const mesh = meshes[c.meshIndex];
  const step = descentStep(c.program);
  const graph = nb.traceGraph(step, [...avalsOf(c.program), { shape: [], dtype: "float64", weak: true }]);
  const compiled = nb.compile(step, { name: `descent-${c.program.seed}` });
  const label = labelOf(c, true, "descent");
  const keys = new Set<string>();
  let globals = c.globals[0];
  let args: Tensor[] = globals.map((data, i) => nb.shard(nb.tensor(data, { shape: c.program.inputs[i].aval.shape, dtype: c.program.inputs[i].aval.dtype }), mesh, c.specs[i]));
  try {
    for (const rate of [0.1, 0.05, 0.2]) {
      keys.add(args.map((t) => String(nb.shardingOf(t)?.spec)).join(" "));
      const outputs = compiled(...args, rate);
      const expected = referenceRun(graph, [...globals, Float64Array.of(rate)]);
      compareOutputs(outputs.map((t) => t.toArray()), expected, `${label}, rate ${rate}`, failures);
      // Both chains go on from the reference values, so errors do not compound over the steps.
      globals = expected;
      args = outputs.map((t, i) => nb.shard(nb.tensor(expected[i], { shape: t.shape, dtype: t.dtype }), mesh, nb.shardingOf(t)?.spec ?? nb.P()));
    }
    const { hits, misses } = compiled.stats;
    if (misses !== keys.size || hits !== 3 - keys.size) failures.push(`${label}: stats ${compiled.stats}, expected ${keys.size} misses for argument specs ${[...keys].join(" | ")}`);
  } finally {
    compiled.clearCache();
  }
  checkMemory(c.meshIndex, label, failures);
}

describe("random programs on meshes", () => {
  it("partitioned programs match the reference", () => {
    const failures = everySeed((c, out) => {
      runPartitioned(c, false, out);
      runPartitioned(c, true, out);
    });
    expect(failures).toEqual([]);
  }, 300_000);

  it("compiled programs match the reference", () => {
    const failures = everySeed((c, out) => {
      runCompiled(c, false, out);
      runCompiled(c, true, out);
    });
    expect(failures).toEqual([]);
  }, 300_000);

  it("compiled descent steps take sharded outputs back", () => {
    expect(everySeed(runDescent)).toEqual([]);
  }, 300_000);
});

/** A compiled random program with the placements it is called with and the keys its calls used. */
interface CompiledCase {
  readonly program: RandomProgram;
  readonly graph: nb.Graph;
  readonly compiled: nb.CompiledFunction<Tensor[], unknown>;
  readonly placements: readonly { readonly mesh: nb.DeviceMesh; readonly specs: readonly nb.ShardingSpec[] }[];
  readonly keys: Set<string>;
  calls: number;
}

function compiledCase(seed: number, gradient: boolean, on: readonly nb.DeviceMesh[]): CompiledCase {
  const rng = new Rng(seed);
  const program = randomProgram(seed);
  const fn = functionOf(program, gradient);
  const placements = on.map((mesh) => ({ mesh, specs: program.inputs.map((input) => randomSpec(rng, input.aval.shape.length, mesh, partialOpsFor(input))) }));
  return { program, graph: nb.traceGraph(fn, avalsOf(program)), compiled: nb.compile(fn, { name: `concurrent-${seed}` }), placements, keys: new Set(), calls: 0 };
}

const meshIds = new Map<nb.DeviceMesh, number>();

/** Returns a number per mesh object, because compile keeps separate cache entries for two meshes of one shape. */
function meshId(mesh: nb.DeviceMesh): number {
  if (!meshIds.has(mesh)) meshIds.set(mesh, meshIds.size);
  return meshIds.get(mesh) as number;
}

/** Calls `f` on fresh values placed as `placement`, and records any difference from the reference run. */
function callChecked(f: CompiledCase, placement: number, dataSeed: number, failures: string[]): void {
  const { mesh, specs } = f.placements[placement];
  const rng = new Rng(dataSeed);
  const globals = f.program.inputs.map((input) => randomData(rng, input));
  const args = globals.map((data, i) => nb.shard(nb.tensor(data, { shape: f.program.inputs[i].aval.shape, dtype: f.program.inputs[i].aval.dtype }), mesh, specs[i]));
  const label = `program ${f.program.seed} placement ${placement} on mesh [${mesh.shape.join(", ")}], data seed ${dataSeed}`;
  f.calls++;
  f.keys.add(`${meshId(mesh)} ${specs.join(" ")}`);
  const outputs = nb.treeFlatten(f.compiled(...args)).leaves as Tensor[];
  compareOutputs(outputs.map((t) => t.toArray()), referenceRun(f.graph, globals), label, failures);
}

/** Ways to start a call: at once, from a queued microtask, from a promise callback, or from a setImmediate callback. */
const starts = ["now", "microtask", "then", "immediate"] as const;

/** Starts `call` in the way `how` selects and resolves once it ran; a thrown error becomes a failure. */
function issue(how: (typeof starts)[number], call: () => void, failures: string[]): Promise<void> {
  const guarded = (): void => {
    try {
      call();
    } catch (error) {
      failures.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
  };
  switch (how) {
    case "now":
      guarded();
      return Promise.resolve();
    case "microtask":
      return new Promise((resolve) =>
        queueMicrotask(() => {
          guarded();
          resolve();
        }),
      );
    case "then":
      return Promise.resolve().then(guarded);
    case "immediate":
      return new Promise<void>((resolve) => setImmediate(resolve)).then(guarded);
    default:
      return how satisfies never;
  }
}

describe("concurrent compiles", () => {
  // Mesh indices into `layouts`: [2], [3], [2, 2] and [2, 4].
  const [two, three, square, wide] = [1, 2, 4, 5];
  /** A second [2] mesh, on which the same specs must compile to a separate cache entry. */
  let twin: nb.DeviceMesh;
  let twinStart: number[];

  beforeAll(async () => {
    twin = await nb.DeviceMesh.create([2], ["x"], { capacityBytes: 16 * 2 ** 20 });
    twinStart = devicesBytes(twin);
  }, 60_000);

  afterAll(async () => {
    await twin.dispose();
  }, 30_000);

  it("interleaved calls stay correct and count cache hits", async () => {
    const cases = [
      compiledCase(5001, false, [meshes[square], meshes[three], meshes[square]]),
      compiledCase(5002, false, [meshes[square], meshes[wide], meshes[two], twin]),
      compiledCase(5003, true, [meshes[three], meshes[square], meshes[wide]]),
      compiledCase(5004, true, [meshes[square]]),
    ];
    const failures: string[] = [];
    const rng = new Rng(77);
    const calls = Math.max(24, Math.min(iterations, 120));
    const issued: Promise<void>[] = [];
    for (let i = 0; i < calls; i++) {
      const f = pick(rng, cases);
      const placement = rng.int(0, f.placements.length);
      const first = issue(pick(rng, starts), () => callChecked(f, placement, 9000 + i, failures), failures);
      // Some calls start a second call once they ran, so calls also start from inside other calls' callbacks.
      const then = rng.next() < 0.3 ? pick(rng, starts) : undefined;
      issued.push(then === undefined ? first : first.then(() => issue(then, () => callChecked(f, 0, 19000 + i, failures), failures)));
    }
    // Async functions that alternate awaits and calls run interleaved with the queued callbacks above.
    const loops = cases.map(async (f, k) => {
      for (let i = 0; i < 4; i++) {
        await null;
        callChecked(f, i % f.placements.length, 29000 + k * 10 + i, failures);
      }
    });
    await Promise.all([...issued, ...loops]);
    expect(failures).toEqual([]);

    for (const f of cases) {
      const label = `program ${f.program.seed}`;
      expect(f.compiled.stats.misses, `${label} misses`).toBe(f.keys.size);
      expect(f.compiled.stats.hits, `${label} hits`).toBe(f.calls - f.keys.size);
      expect(f.compiled.stats.fallbacks, `${label} fallbacks`).toBe(0);
      expect(f.compiled.cacheKeys(), `${label} cache keys`).toHaveLength(f.keys.size);
      f.compiled.clearCache();
    }
    for (const meshIndex of [two, three, square, wide]) expect(devicesBytes(meshes[meshIndex]), `mesh [${layouts[meshIndex].shape.join(", ")}] bytes in use`).toEqual(startBytes[meshIndex]);
    expect(devicesBytes(twin), "second [2] mesh bytes in use").toEqual(twinStart);
  }, 120_000);

  it("rejects calls during an asynchronous run", async () => {
    const mesh = meshes[square];
    const f = compiledCase(5005, false, [mesh]);
    const failures: string[] = [];
    callChecked(f, 0, 1, failures);
    const allReduce = collectiveProgram(mesh.runtime.topology, { kind: "allReduce", op: "sum", axes: ["x", "y"], dtype: "float32", count: 33 });
    const handle = mesh.load({ ...allReduce, name: "pending-run" });
    const inputs = Array.from({ length: mesh.size }, (_, d) => [mesh.memory(d).upload(Float32Array.from({ length: 33 }, (_, i) => i - d * 0.5))]);
    const run = mesh.run(handle, inputs);
    expect(() => callChecked(f, 0, 2, failures)).toThrow(/an asynchronous run of this mesh is still pending/);
    const outputs = await run;
    // The run settles before callbacks chained on it, so a call from such a callback runs normally.
    await run.then(() => callChecked(f, 0, 3, failures));
    expect(failures).toEqual([]);

    outputs.forEach(([offset], d) => mesh.memory(d).free(offset));
    inputs.forEach(([offset], d) => mesh.memory(d).free(offset));
    mesh.runtime.unload(handle);
    f.compiled.clearCache();
    expect(devicesBytes(mesh)).toEqual(startBytes[square]);
  }, 60_000);
});

/** Elements each device's allReduce moves in an injected fault program. */
const faultCount = 37;

/** Builds a program where every device runs two allReduces and device `faulty` runs `fault` between them. */
function faultProgram(mesh: nb.DeviceMesh, faulty: number, fault: Step, name: string): Program {
  const sum = { kind: "allReduce", op: "sum", axes: [...mesh.axisNames], dtype: "float32", count: faultCount, input: { binding: 0 }, output: { binding: 1 } } as const;
  const part = (device: number): DeviceProgram => ({ inputs: 1, outputs: [4 * faultCount], temps: [], steps: device === faulty ? [sum, fault, sum] : [sum, sum] });
  return { name, devices: Array.from({ length: mesh.size }, (_, device) => part(device)) };
}

interface FaultCase {
  readonly name: string;
  readonly fault: Step;
  readonly device: number;
  /** Whether the fault program runs with mesh.runSync, as compiled functions do, or with mesh.run. */
  readonly sync: boolean;
  readonly message: RegExp;
  /** Whether a compiled call before `await mesh.ready()` raises, because the fault cost a device its worker. */
  readonly needsReady: boolean;
}

const faultCases: readonly FaultCase[] = [
  { name: "throwing step in an asynchronous run", fault: { kind: "throw", message: "injected failure" }, device: 1, sync: false, message: /failed on device 1 at step 1 \(throw\): Error: injected failure/, needsReady: false },
  { name: "throwing step in a synchronous run", fault: { kind: "throw", message: "injected failure" }, device: 3, sync: true, message: /failed on device 3 at step 1 \(throw\): Error: injected failure/, needsReady: false },
  { name: "worker exit in an asynchronous run", fault: { kind: "exit", code: 7 }, device: 2, sync: false, message: /the worker of device 2 exited during step 1 \(exit\)/, needsReady: true },
  { name: "worker exit in a synchronous run", fault: { kind: "exit", code: 7 }, device: 0, sync: true, message: /the worker of device 0 exited during step 1 \(exit\)/, needsReady: true },
];

describe("worker faults between compiled runs", () => {
  let mesh: nb.DeviceMesh;
  let start: number[];
  /** bytesInUse once the compiled program is loaded: its constants stay in device memory until clearCache(). */
  let loaded: number[];
  let f: CompiledCase;
  let dataSeed = 0;

  beforeAll(async () => {
    // A short timeout bounds the synchronous worker-exit case; the compiled programs here take milliseconds.
    mesh = await nb.DeviceMesh.create([2, 2], ["x", "y"], { timeoutMs: 2000, stopGraceMs: 300, capacityBytes: 16 * 2 ** 20 });
    start = devicesBytes(mesh);
  }, 60_000);

  afterAll(async () => {
    await mesh.dispose();
  }, 30_000);

  /** Calls the compiled program on fresh values and expects the reference result. */
  function expectWorks(label: string): void {
    const failures: string[] = [];
    callChecked(f, 0, 40_000 + dataSeed++, failures);
    expect(failures, label).toEqual([]);
  }

  it("runs a compiled program before any fault", () => {
    f = compiledCase(6001, true, [mesh]);
    expectWorks("first call");
    loaded = devicesBytes(mesh);
  });

  for (const c of faultCases) {
    it(`recovers from a ${c.name}`, async () => {
      const inputs = Array.from({ length: mesh.size }, (_, d) => [mesh.memory(d).upload(Float32Array.from({ length: faultCount }, (_, i) => (i % 5) - d * 0.25 + 0.5))]);
      const handle = mesh.load(faultProgram(mesh, c.device, c.fault, c.name));
      let error: unknown;
      try {
        if (c.sync) mesh.runSync(handle, inputs);
        else await mesh.run(handle, inputs);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(nb.DeviceError);
      expect((error as nb.DeviceError).device).toBe(c.device);
      expect((error as nb.DeviceError).program).toBe(c.name);
      expect((error as Error).message).toMatch(c.message);

      if (c.needsReady) expect(() => expectWorks("before ready")).toThrow(/await mesh\.ready\(\)/);
      else expectWorks("before ready");
      await mesh.ready();
      expectWorks("after ready");

      inputs.forEach(([offset], d) => mesh.memory(d).free(offset));
      mesh.runtime.unload(handle);
      expect(devicesBytes(mesh), "bytes in use after the fault").toEqual(loaded);
    }, 30_000);
  }

  it("recovers from a worker terminated while the mesh is idle", async () => {
    const thread = mesh.runtime.threadOf(1);
    const worker = mesh.runtime.pool.threads.find((candidate) => candidate.threadId === thread);
    expect(worker, "worker of device 1").toBeDefined();
    await worker?.terminate();
    expect(() => expectWorks("before ready")).toThrow(/await mesh\.ready\(\)/);
    await mesh.ready();
    expectWorks("after ready");
    expect(mesh.runtime.threadOf(1)).not.toBe(thread);
    expect(devicesBytes(mesh), "bytes in use after the fault").toEqual(loaded);
  }, 30_000);

  it("keeps one cache entry and frees every buffer", () => {
    // Calls that raised before reaching the devices still count as cache hits.
    expect(f.compiled.stats.misses).toBe(1);
    expect(f.compiled.stats.hits).toBe(f.calls - 1);
    f.compiled.clearCache();
    expect(devicesBytes(mesh)).toEqual(start);
  });
});
