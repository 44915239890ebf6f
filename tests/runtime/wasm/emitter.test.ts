import { describe, expect, it, vi } from "vitest";
import { setDebugLevel } from "../../../src/runtime/debug.js";
import { CodeBuilder } from "../../../src/runtime/wasm/emitter/code.js";
import { signedLeb, unsignedLeb } from "../../../src/runtime/wasm/emitter/leb128.js";
import { ModuleBuilder } from "../../../src/runtime/wasm/emitter/module.js";
import { printModule } from "../../../src/runtime/wasm/emitter/printer.js";
import { binary, constant, input } from "../../../src/runtime/wasm/elementwise/ir.js";
import { elementwiseKernel } from "../../../src/runtime/wasm/elementwise/kernel.js";
import { kernelCompileCount } from "../../../src/runtime/wasm/kernel.js";

describe("bytecode emitter", () => {
  it("LEB128 encodings", () => {
    expect(unsignedLeb(0)).toEqual([0]);
    expect(unsignedLeb(127)).toEqual([0x7f]);
    expect(unsignedLeb(128)).toEqual([0x80, 0x01]);
    expect(unsignedLeb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(unsignedLeb(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(signedLeb(-1)).toEqual([0x7f]);
    expect(signedLeb(63)).toEqual([0x3f]);
    expect(signedLeb(64)).toEqual([0xc0, 0x00]);
    expect(signedLeb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(signedLeb(-2147483648)).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
  });

  it("builds a valid module that runs", () => {
    const c = new CodeBuilder([["x", "i32"]], ["i32"]);
    const done = c.block();
    c.get(c.param(0)).i32(10).op("i32.gt_s").brIf(done);
    c.get(c.param(0)).i32(3).op("i32.mul").set(c.param(0));
    c.end();
    c.get(c.param(0));
    const module = new ModuleBuilder();
    module.addFunction("triple", c);
    const bytes = module.encode();
    expect(WebAssembly.validate(bytes)).toBe(true);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
    const triple = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.triple as (x: number) => number;
    expect(triple(4)).toBe(12);
    expect(triple(11)).toBe(11);
  });

  it("prints readable text with nesting", () => {
    const c = new CodeBuilder([["p", "i32"]]);
    const loop = c.loop();
    c.get(c.param(0)).vmem("v128.load").simd("f32x4.abs").op("drop");
    c.get(c.param(0)).brIf(loop);
    c.end();
    const module = new ModuleBuilder();
    module.addFunction("run", c);
    const text = printModule(module, "demo");
    expect(text).toContain('(import "env" "memory" (memory 1 65536 shared))');
    expect(text).toContain("    loop $loop0\n      local.get $p\n      v128.load offset=0\n      f32x4.abs");
    expect(text).toContain("br_if $loop0");
  });

  it("NABLA_DEBUG=3 prints each new kernel once", () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    setDebugLevel(3);
    try {
      const spec = { shape: [13], inputs: [{ dtype: "float32" as const, strides: [1] }], outputs: [binary("mul", input(0), constant(0.25))] };
      const before = kernelCompileCount();
      elementwiseKernel(spec, { relaxed: false });
      elementwiseKernel(spec, { relaxed: false });
      expect(kernelCompileCount()).toBe(before + 1);
      const printed = write.mock.calls.map((call) => String(call[0])).join("");
      expect(printed).toContain("(module ;; elementwise shape=[13]");
      expect(printed).toContain("f32x4.mul");
    } finally {
      setDebugLevel(0);
      write.mockRestore();
    }
  });
});
