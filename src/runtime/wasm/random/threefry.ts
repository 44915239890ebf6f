// Counter-based random draws in WebAssembly: Threefry-2x32 with 20 rounds, unrolled, one counter per
// element, producing the same bits, uniforms and normals as the reference in runtime/reference/random.ts.

import { itemSize, type StorageDType } from "../../storage.js";
import { CodeBuilder, type Local } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { emitFor } from "../loops.js";

export type DrawKind = "bits" | "uniform" | "normal";

export interface RandomSpec {
  readonly kind: DrawKind;
  readonly count: number;
  readonly dtype: StorageDType;
}

export interface RandomKernel {
  readonly key: string;
  readonly kernel: CompiledKernel;
  /** Reads the int32 key pair at `key` and writes `count` draws at `output`. */
  run(memory: WebAssembly.Memory, key: number, output: number): void;
}

const rotations = [13, 15, 26, 6, 17, 29, 16, 24];

export function randomKernel(spec: RandomSpec): RandomKernel {
  const key = `random ${spec.kind} ${spec.dtype} count=${spec.count}`;
  const kernel = compileKernel(key, () => buildRandom(spec));
  return {
    key,
    kernel,
    run(memory, keyOffset, output) {
      (instantiate(kernel, memory).exports.run as (a: number, b: number) => void)(keyOffset, output);
    },
  };
}

/** Emits x0, x1 = threefry(k, (0, counter)) with k = ks[0..1] and ks[2] = k0 ^ k1 ^ 0x1bd11bda. */
function emitThreefry(c: CodeBuilder, ks: readonly Local[], counter: Local, x0: Local, x1: Local): void {
  c.get(ks[0]).set(x0);
  c.get(counter).get(ks[1]).op("i32.add").set(x1);
  for (let block = 0; block < 5; block++) {
    for (let r = 0; r < 4; r++) {
      c.get(x0).get(x1).op("i32.add").set(x0);
      c.get(x1).i32(rotations[(block % 2) * 4 + r]).op("i32.rotl").get(x0).op("i32.xor").set(x1);
    }
    c.get(x0).get(ks[(block + 1) % 3]).op("i32.add").set(x0);
    c.get(x1).get(ks[(block + 2) % 3]).op("i32.add").i32(block + 1).op("i32.add").set(x1);
  }
}

/** Pushes (word >>> 8) / 2^24 as f64: 24 random bits, exact in float32. */
function emitUnit(c: CodeBuilder, word: Local): void {
  c.get(word).i32(8).op("i32.shr_u").op("f64.convert_i32_u").f64(1 / 16777216).op("f64.mul");
}

function emitStore(c: CodeBuilder, dtype: StorageDType): void {
  if (dtype === "float32") c.op("f32.demote_f64").mem("f32.store");
  else c.mem("f64.store");
}

function buildRandom(spec: RandomSpec): ModuleBuilder {
  const module = new ModuleBuilder();
  const log = module.importFunction({ module: "math", name: "log", params: ["f64"], results: ["f64"] });
  const cos = module.importFunction({ module: "math", name: "cos", params: ["f64"], results: ["f64"] });
  const c = new CodeBuilder([["key", "i32"], ["output", "i32"]]);
  const [keyPtr, output] = c.params;
  const ks = [c.local("i32", "k0"), c.local("i32", "k1"), c.local("i32", "k2")];
  const [j, x0, x1, pointer] = [c.local("i32", "j"), c.local("i32", "x0"), c.local("i32", "x1"), c.local("i32", "pointer")];
  const bytes = spec.kind === "bits" ? 4 : itemSize(spec.dtype);

  c.get(keyPtr).mem("i32.load").set(ks[0]);
  c.get(keyPtr).mem("i32.load", 4).set(ks[1]);
  c.get(ks[0]).get(ks[1]).op("i32.xor").i32(0x1bd11bda).op("i32.xor").set(ks[2]);
  c.get(output).set(pointer);

  emitFor(c, j, spec.count, 1, () => {
    emitThreefry(c, ks, j, x0, x1);
    c.get(pointer);
    if (spec.kind === "bits") {
      c.get(x0).mem("i32.store");
    } else if (spec.kind === "uniform") {
      emitUnit(c, x0);
      emitStore(c, spec.dtype);
    } else {
      // sqrt(-2 log(1 - u1)) cos(2 pi u2), in the reference's order of operations, so the bits agree.
      c.f64(1);
      emitUnit(c, x0);
      c.op("f64.sub").call(log, "log").f64(-2).op("f64.mul").op("f64.sqrt");
      c.f64(2 * Math.PI);
      emitUnit(c, x1);
      c.op("f64.mul").call(cos, "cos").op("f64.mul");
      emitStore(c, spec.dtype);
    }
    c.get(pointer).i32(bytes).op("i32.add").set(pointer);
  });
  module.addFunction("run", c);
  return module;
}
