// The SIMD throughput ceiling: a loop of independent f32x4.mul + f32x4.add chains with no memory traffic.
// Benchmarks divide kernel GFLOP/s by this number to report a fraction of what the engine can issue.

import { CodeBuilder } from "./emitter/code.js";
import { ModuleBuilder } from "./emitter/module.js";
import { f32x4Const } from "./math/vector.js";
import { compileKernel, instantiate } from "./kernel.js";

/** Independent chains; more than the add latency times the issue width, so no chain waits on itself. */
const chains = 12;

/** Floating-point operations per loop iteration: chains x (4 multiplies + 4 adds). */
export const ceilingFlopsPerIteration = chains * 8;

/** Returns run(iterations, out) that performs `iterations` loop trips and stores one v128 at `out`. */
export function ceilingKernel(memory: WebAssembly.Memory): (iterations: number, out: number) => void {
  const kernel = compileKernel(`ceiling chains=${chains}`, () => {
    const c = new CodeBuilder([["iterations", "i32"], ["out", "i32"]]);
    const [iterations, out] = c.params;
    const acc = Array.from({ length: chains }, (_, i) => {
      const local = c.local("v128", "acc");
      f32x4Const(c, 1 + i / 64).set(local);
      return local;
    });
    const scale = c.local("v128", "scale");
    const shift = c.local("v128", "shift");
    f32x4Const(c, 0.999).set(scale);
    f32x4Const(c, 0.001).set(shift);
    const loop = c.loop();
    for (const a of acc) c.get(a).get(scale).simd("f32x4.mul").get(shift).simd("f32x4.add").set(a);
    c.get(iterations).i32(1).op("i32.sub").tee(iterations).i32(0).op("i32.gt_s").brIf(loop);
    c.end();
    // Sum the chains and store, so the engine cannot drop the loop as dead code.
    c.get(acc[0]);
    for (const a of acc.slice(1)) c.get(a).simd("f32x4.add");
    c.set(acc[0]);
    c.get(out).get(acc[0]).vmem("v128.store");
    const module = new ModuleBuilder();
    module.addFunction("run", c);
    return module;
  });
  return instantiate(kernel, memory).exports.run as (iterations: number, out: number) => void;
}
