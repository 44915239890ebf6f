// compile(): trace once per cache key, then replay the captured program without calling the function.

import { Node, type Aval } from "../core/node.js";
import { treeFlattenWithNumbers, treeUnflatten } from "../core/pytree.js";
import { realize, Tensor } from "../core/tensor.js";
import { isTracing } from "../core/trace-state.js";
import { debugLog } from "../runtime/debug.js";
import { TracerError, ValueError } from "../runtime/errors.js";
import { allocate, type Storage } from "../runtime/storage.js";
import { explainMiss, makeCacheKey, type CacheKey } from "./cache-key.js";
import * as random from "../ops/random.js";
import { CompileStats } from "./stats.js";
import { MeshProgram } from "./mesh/mesh-program.js";
import type { SpmdProgram } from "../sharding/program.js";
import { describePlacement, placeLeaves, type MeshCompileOptions, type MeshPlacement } from "./mesh/placement.js";
import { traceFunction, type TracedProgram } from "./trace.js";

export interface CompileOptions extends MeshCompileOptions {
  /** Positional arguments passed through as they are and made part of the cache key instead of traced. */
  readonly staticArgnums?: readonly number[];
  /** Behaviour when the function cannot be traced: run it eagerly ("eager", the default) or raise ("error"). */
  readonly fallback?: "eager" | "error";
  /** Name used in logs and keys; the function's own name by default. */
  readonly name?: string;
}

export interface CompiledFunction<Args extends unknown[], Out> {
  (...args: Args): Out;
  readonly stats: CompileStats;
  /** The printable keys of the cached programs, oldest first. */
  cacheKeys(): string[];
  /** The partitioned programs of the cached mesh entries, oldest first (empty on one device). */
  spmdPrograms(): SpmdProgram[];
  /** Drops every cached program; the next call traces again. */
  clearCache(): void;
}

type CacheEntry =
  | { readonly kind: "program"; readonly traced: TracedProgram; readonly drawsRandom: boolean }
  | { readonly kind: "mesh"; readonly program: MeshProgram; readonly drawsRandom: boolean }
  | { readonly kind: "fallback"; readonly reason: string };

/** Returns the aval of a JavaScript number traced as a weak scalar: int32 if integral, float64 otherwise (cast on use). */
function numberAval(value: number): Aval {
  const integral = Number.isInteger(value) && value >= -2147483648 && value <= 2147483647;
  return { shape: [], dtype: integral ? "int32" : "float64", weak: true };
}

function leafAval(leaf: Tensor | number): Aval {
  return leaf instanceof Tensor ? { shape: leaf.shape, dtype: leaf.dtype, weak: leaf.node.aval.weak } : numberAval(leaf);
}

function leafBuffer(leaf: Tensor | number, aval: Aval): Storage {
  if (leaf instanceof Tensor) return leaf.node.buffer as Storage;
  const data = allocate(aval.dtype, 1);
  data[0] = leaf;
  return data;
}

/** Runs a cached program on the argument leaves and wraps the results as new tensors. */
function replay(traced: TracedProgram, leaves: readonly (Tensor | number)[], avals: readonly Aval[]): unknown {
  realize(...leaves.filter((l): l is Tensor => l instanceof Tensor));
  const inputs = [...leaves.map((l, i) => leafBuffer(l, avals[i])), ...traced.constants];
  const buffers = traced.plan.run(inputs);
  const outputs = buffers.map((buffer, i) => new Tensor(Node.leaf(traced.outputAvals[i], buffer)));
  return treeUnflatten(traced.outTreedef, outputs);
}

/**
 * Compiles `fn`. The first call with a new key (argument structure, each leaf's shape, dtype and
 * sharding, static arguments) traces `fn` with abstract tensors. Later calls with that key replay the
 * traced program without running `fn`. JavaScript numbers in the arguments are traced as scalars, so a
 * changing learning rate does not recompile. `fn` must be pure: side effects happen once, at trace time.
 */
export function compile<Args extends unknown[], Out>(fn: (...args: Args) => Out, options: CompileOptions = {}): CompiledFunction<Args, Out> {
  const name = options.name ?? (fn.name || "anonymous");
  const staticPositions = new Set(options.staticArgnums ?? []);
  const cache = new Map<string, CacheEntry>();
  const stats = new CompileStats();
  let lastKey: CacheKey | undefined;

  const compiled = (...args: Args): Out => {
    // Called while another function is being traced: trace the body inline, as jax.jit does for nested jit.
    if (isTracing()) return fn(...args);

    const dynamic = [...args.map((a, i) => (staticPositions.has(i) ? undefined : a)), random.globalKeyTensor()];
    const statics = args.filter((_, i) => staticPositions.has(i));
    const { leaves, treedef } = treeFlattenWithNumbers(dynamic);

    // Differentiating through a compiled call (grad of a compiled function): run the function inline so
    // the graph records it. Leaves that merely have requiresGrad set are traced as usual.
    if (leaves.some((leaf) => leaf instanceof Tensor && leaf.node.tracked && leaf.node.kind === "op")) {
      stats.fallbacks++;
      debugLog(1, () => `compile ${name}: running inline because an argument is being differentiated`);
      return fn(...args);
    }

    const avals = leaves.map(leafAval);
    const placement = placeLeaves(args, (i) => staticPositions.has(i), leaves, options, name);
    const key = makeCacheKey(treedef, avals, statics, leaves.map((_, i) => describePlacement(placement, i)));
    let entry = cache.get(key.text);
    if (entry === undefined) {
      debugLog(1, () => `compile ${name}: miss (${explainMiss(key, lastKey)}); key ${key.text}`);
      const traceable = withStatics(fn, args, staticPositions);
      const fallback = options.fallback ?? "eager";
      entry = placement === undefined ? traceOrFallback(traceable, treedef, avals, name, fallback) : traceForMesh(traceable, treedef, avals, placement, options, name, fallback);
      cache.set(key.text, entry);
      if (entry.kind !== "fallback") stats.misses++;
      lastKey = key;
    } else if (entry.kind !== "fallback") {
      stats.hits++;
    }

    if (entry.kind === "fallback") {
      stats.fallbacks++;
      debugLog(1, () => `compile ${name}: running eagerly (${entry.kind === "fallback" ? entry.reason : ""})`);
      return fn(...args);
    }
    const out = (entry.kind === "mesh" ? entry.program.run(leaves, avals) : replay(entry.traced, leaves, avals)) as Out;
    if (entry.drawsRandom) random.nextKey();
    return out;
  };

  return Object.assign(compiled, {
    stats,
    cacheKeys: () => [...cache.keys()],
    spmdPrograms: () => [...cache.values()].flatMap((entry) => (entry.kind === "mesh" ? [entry.program.spmd] : [])),
    clearCache: () => {
      for (const entry of cache.values()) if (entry.kind === "mesh") entry.program.dispose();
      cache.clear();
    },
  });
}

/**
 * The function the tracer calls: it takes the dynamic arguments plus the global random key (last),
 * splices the static arguments back in, and derives global random draws from that key.
 */
function withStatics<Args extends unknown[], Out>(
  fn: (...args: Args) => Out,
  args: Args,
  staticPositions: ReadonlySet<number>,
): (...traced: unknown[]) => { result: Out; draws: number } {
  return (...traced: unknown[]) => {
    const key = traced[traced.length - 1] as Tensor;
    const callArgs = args.map((a, i) => (staticPositions.has(i) ? a : traced[i])) as Args;
    return random.withTracedKey(key, () => fn(...callArgs));
  };
}

function traceForMesh(
  fn: (...args: never[]) => { result: unknown; draws: number },
  treedef: Parameters<typeof traceFunction>[1],
  avals: readonly Aval[],
  placement: MeshPlacement,
  options: MeshCompileOptions,
  name: string,
  fallback: "eager" | "error",
): CacheEntry {
  let draws = 0;
  const traced = (...args: never[]): unknown => {
    const out = fn(...args);
    draws = out.draws;
    return out.result;
  };
  try {
    const program = new MeshProgram(traced, treedef, avals, placement, options, name);
    return { kind: "mesh", program, drawsRandom: draws > 0 };
  } catch (error) {
    if (!(error instanceof TracerError)) throw error;
    if (fallback === "error") throw new TracerError(`compile ${name}: ${error.message}`);
    return { kind: "fallback", reason: error.message };
  }
}

function traceOrFallback(
  fn: (...args: never[]) => { result: unknown; draws: number },
  treedef: Parameters<typeof traceFunction>[1],
  avals: readonly Aval[],
  name: string,
  fallback: "eager" | "error",
): CacheEntry {
  try {
    let draws = 0;
    const traced = traceFunction(
      (...args: never[]) => {
        const out = fn(...args);
        draws = out.draws;
        return out.result;
      },
      treedef,
      avals,
      name,
    );
    debugLog(1, () => `compile ${name}: traced ${traced.opCount} ops`);
    return { kind: "program", traced, drawsRandom: draws > 0 };
  } catch (error) {
    if (!(error instanceof TracerError)) throw error;
    if (fallback === "error") throw new TracerError(`compile ${name}: ${error.message}`);
    if (fallback !== "eager") throw new ValueError(`compile: fallback must be "eager" or "error", got ${JSON.stringify(fallback)}`);
    return { kind: "fallback", reason: error.message };
  }
}
