// Random graphs for partitioner tests: a recipe of ops over square [n, n] float32 values, drawn from a
// seeded generator, and the traced function that builds it.

import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/core/tensor.js";
import type { Rng } from "./spmd-support.js";

export type Recipe =
  | { readonly op: "add" | "mul" | "sub" | "maximum" | "matmul"; readonly a: number; readonly b: number }
  | { readonly op: "tanh" | "transpose"; readonly a: number }
  | { readonly op: "sumInto" | "maxInto"; readonly a: number; readonly b: number; readonly axis: number };

/** An output: value `index` of the recipe, summed over `axis` unless it is null. */
export interface RecipeOutput {
  readonly index: number;
  readonly axis: number | null;
}

/** Draws a random graph over square [n, n] values: binary ops, matmuls, reductions broadcast back, and a few outputs. */
export function randomRecipe(rng: Rng, inputs: number): { steps: Recipe[]; outputs: RecipeOutput[] } {
  const steps: Recipe[] = [];
  const pick = (): number => rng.int(0, inputs + steps.length);
  const count = rng.int(2, 12);
  for (let i = 0; i < count; i++) {
    const roll = rng.int(0, 11);
    if (roll < 4) steps.push({ op: (["add", "mul", "sub", "maximum"] as const)[roll], a: pick(), b: pick() });
    else if (roll === 4) steps.push({ op: "matmul", a: pick(), b: pick() });
    else if (roll === 5) steps.push({ op: "tanh", a: pick() });
    else if (roll === 6) steps.push({ op: "transpose", a: pick() });
    else steps.push({ op: roll < 10 ? "sumInto" : "maxInto", a: pick(), b: pick(), axis: rng.int(0, 2) });
  }
  const total = inputs + steps.length;
  const indices = [total - 1, ...Array.from({ length: rng.int(0, 4) }, () => rng.int(0, total))];
  const outputs = indices.map((index) => ({ index, axis: rng.next() < 0.5 ? null : rng.int(0, 2) }));
  return { steps, outputs };
}

export function buildRecipe(recipe: { steps: Recipe[]; outputs: RecipeOutput[] }): (...inputs: Tensor[]) => Tensor[] {
  return (...inputs) => {
    const values = [...inputs];
    for (const step of recipe.steps) {
      const a = values[step.a];
      switch (step.op) {
        case "tanh":
          values.push(nb.tanh(a));
          break;
        case "transpose":
          values.push(nb.transpose(a));
          break;
        case "sumInto":
          values.push(nb.add(nb.sum(a, { axis: step.axis, keepdims: true }), values[step.b]));
          break;
        case "maxInto":
          values.push(nb.mul(nb.max(a, { axis: step.axis, keepdims: true }), values[step.b]));
          break;
        default:
          values.push(nb[step.op](a, values[step.b]));
      }
    }
    return recipe.outputs.map(({ index, axis }) => (axis === null ? values[index] : nb.sum(values[index], axis)));
  };
}
