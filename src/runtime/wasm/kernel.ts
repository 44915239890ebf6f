// Kernel compilation and instantiation: modules compiled once per printable key, instances cached per memory.
//
// A kernel is a module whose exported functions take only i32 byte offsets into the imported device
// memory, so the same WebAssembly.Module can be posted to a worker and instantiated there.

import { debugLog } from "../debug.js";
import { erf, sigmoid } from "../reference/math.js";
import type { ModuleBuilder } from "./emitter/module.js";
import { printModule } from "./emitter/printer.js";

/** Scalar helpers a kernel may import from module "math"; available in any thread that instantiates it. */
export const mathImports = {
  exp: Math.exp, log: Math.log, log1p: Math.log1p, sin: Math.sin, cos: Math.cos, tanh: Math.tanh,
  pow: Math.pow, erf, sigmoid,
} as const;
export type MathImport = keyof typeof mathImports;

/** A compiled kernel: the module plus the key it was specialised for. */
export interface CompiledKernel {
  readonly key: string;
  readonly module: WebAssembly.Module;
}

const modules = new Map<string, CompiledKernel>();
const instances = new WeakMap<WebAssembly.Memory, Map<string, WebAssembly.Instance>>();
let compiles = 0;

/** Returns the kernel cached under `key`, building and compiling it on the first request. */
export function compileKernel(key: string, build: () => ModuleBuilder): CompiledKernel {
  const cached = modules.get(key);
  if (cached !== undefined) return cached;

  const builder = build();
  const bytes = builder.encode();
  debugLog(1, () => `compile kernel ${key} (${bytes.length} bytes)`);
  debugLog(3, () => printModule(builder, key));
  const kernel = { key, module: new WebAssembly.Module(bytes) };
  compiles++;
  modules.set(key, kernel);
  return kernel;
}

/** Returns the instance of `kernel` bound to `memory`, creating it on first use. */
export function instantiate(kernel: CompiledKernel, memory: WebAssembly.Memory): WebAssembly.Instance {
  let perMemory = instances.get(memory);
  if (perMemory === undefined) instances.set(memory, (perMemory = new Map()));
  let instance = perMemory.get(kernel.key);
  if (instance === undefined) {
    instance = new WebAssembly.Instance(kernel.module, { env: { memory }, math: mathImports });
    perMemory.set(kernel.key, instance);
  }
  return instance;
}

/** Number of modules compiled so far in this thread, for cache tests. */
export function kernelCompileCount(): number {
  return compiles;
}
