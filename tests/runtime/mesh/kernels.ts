// Test kernels built with the emitter: an affine map and one that traps.

import { compileKernel, type CompiledKernel } from "../../../src/runtime/wasm/kernel.js";
import { CodeBuilder } from "../../../src/runtime/wasm/emitter/code.js";
import { ModuleBuilder } from "../../../src/runtime/wasm/emitter/module.js";

/** Kernel "test-affine": export "run"(input, output, n) writes output[i] = 2 * input[i] + 1 in float32. */
export function affineKernel(): CompiledKernel {
  return compileKernel("test-affine", () => {
    const c = new CodeBuilder([["input", "i32"], ["output", "i32"], ["n", "i32"]]);
    const [input, output, n] = c.params;
    const i = c.local("i32", "i");
    const exit = c.block();
    const top = c.loop();
    c.get(i).get(n).op("i32.ge_s").brIf(exit);
    c.get(output).get(i).i32(4).op("i32.mul").op("i32.add");
    c.get(input).get(i).i32(4).op("i32.mul").op("i32.add").mem("f32.load");
    c.f32(2).op("f32.mul").f32(1).op("f32.add").mem("f32.store");
    c.get(i).i32(1).op("i32.add").set(i).br(top);
    c.end().end();
    const module = new ModuleBuilder();
    module.addFunction("run", c);
    return module;
  });
}

/** Kernel "test-trap": export "run"() loads from the last bytes of the 4 GiB space and traps out of bounds. */
export function trapKernel(): CompiledKernel {
  return compileKernel("test-trap", () => {
    const c = new CodeBuilder([]);
    c.i32(-16).i32(-16).mem("i32.load").mem("i32.store");
    const module = new ModuleBuilder();
    module.addFunction("run", c);
    return module;
  });
}
