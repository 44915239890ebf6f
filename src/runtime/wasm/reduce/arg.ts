// argmax and argmin along one axis of a dense float32 or float64 tensor, written as int32 indices.
// The first index wins ties and the first NaN wins outright, as in the reference.

import { IndexError } from "../../errors.js";
import { itemSize, sizeOf } from "../../storage.js";
import { CodeBuilder } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { emitFor } from "../loops.js";
import type { FloatDType } from "./accumulate.js";

export interface ArgReduceSpec {
  readonly shape: readonly number[];
  readonly axis: number;
  readonly kind: "max" | "min";
  readonly dtype: FloatDType;
}

export interface ArgReduceKernel {
  readonly key: string;
  readonly kernel: CompiledKernel;
  run(memory: WebAssembly.Memory, input: number, output: number): void;
}

export function argReduceKernel(spec: ArgReduceSpec): ArgReduceKernel {
  const { shape, axis } = spec;
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length || shape[axis] < 1) {
    throw new IndexError(`arg${spec.kind}: axis ${axis} must name a non-empty axis of shape [${shape.join(", ")}]`);
  }
  const key = `arg${spec.kind} ${spec.dtype} shape=[${shape.join(",")}] axis=${axis}`;
  const kernel = compileKernel(key, () => buildArgReduce(spec));
  return {
    key,
    kernel,
    run(memory, input, output) {
      (instantiate(kernel, memory).exports.run as (a: number, b: number) => void)(input, output);
    },
  };
}

/** NOTE: scalar code; the vector form (compare, select indices four lanes at a time) is still to do. */
function buildArgReduce(spec: ArgReduceSpec): ModuleBuilder {
  const c = new CodeBuilder([["input", "i32"], ["output", "i32"]]);
  const [input, output] = c.params;
  const bytes = itemSize(spec.dtype);
  const n = spec.shape[spec.axis];
  const inner = sizeOf(spec.shape.slice(spec.axis + 1));
  const outer = sizeOf(spec.shape.slice(0, spec.axis));
  const [o, i, q, best, pointer] = [c.local("i32", "o"), c.local("i32", "i"), c.local("i32", "q"), c.local("i32", "best"), c.local("i32", "pointer")];
  const value = c.local("f64", "value");
  const current = c.local("f64", "current");
  const load = (): void => {
    if (spec.dtype === "float32") c.mem("f32.load").op("f64.promote_f32");
    else c.mem("f64.load");
  };

  emitFor(c, o, outer * inner, 1, () => {
    // Element q of this output's line is at input + ((o / inner) * n * inner + o % inner + q * inner) * bytes.
    c.get(input).get(o).i32(inner).op("i32.div_u").i32(n * inner * bytes).op("i32.mul").op("i32.add");
    c.get(o).i32(inner).op("i32.rem_u").i32(bytes).op("i32.mul").op("i32.add").tee(pointer);
    load();
    c.set(current);
    c.i32(0).set(best);
    const done = c.block();
    c.get(current).get(current).op("f64.ne").brIf(done);
    emitFor(c, q, n - 1, 1, () => {
      c.get(pointer).i32(inner * bytes).op("i32.add").tee(pointer);
      load();
      c.set(value);
      c.get(q).i32(1).op("i32.add").set(i);
      c.get(value).get(value).op("f64.ne");
      c.if();
      c.get(i).set(best);
      c.br(done);
      c.end();
      c.get(value).get(current).op(spec.kind === "max" ? "f64.gt" : "f64.lt");
      c.if();
      c.get(value).set(current);
      c.get(i).set(best);
      c.end();
    });
    c.end();
    c.get(output).get(o).i32(4).op("i32.mul").op("i32.add").get(best).mem("i32.store");
  });
  const module = new ModuleBuilder();
  module.addFunction("run", c);
  return module;
}
