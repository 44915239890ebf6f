// Layer norm over the last axis of a float32 [rows, cols] tensor, forward and backward.
// Row statistics accumulate in float32 vectors (four partial sums), with an error bound of about
// cols * 2^-24 relative. The variance is a second pass over x - mean, which avoids the cancellation
// of E[x^2] - mean^2 when the mean is large.

import { CodeBuilder, type Local } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { emitFor } from "../loops.js";
import { f32x4Const, keep } from "../math/vector.js";
import { forEachVector, loadRow, pushHorizontal, setRowPointer, storeRow } from "./common.js";
import { compileKernel, instantiate } from "../kernel.js";
import type { RowKernel } from "./softmax.js";

/** run(x, gamma, beta, y, mean, rstd): y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps). */
export function layerNormForwardKernel(rows: number, cols: number, eps: number): RowKernel<[number, number, number, number, number, number]> {
  const key = `layerNorm f32 rows=${rows} cols=${cols} eps=${eps}`;
  const kernel = compileKernel(key, () => {
    const c = new CodeBuilder(["x", "gamma", "beta", "y", "mean", "rstd"].map((n) => [n, "i32"] as const));
    const [x, gamma, beta, y, meanOut, rstdOut] = c.params;
    const [row, j, px, pg, pb, py] = ["row", "j", "px", "pg", "pb", "py"].map((n) => c.local("i32", n));
    const mean = c.local("f32", "mean");
    const rstd = c.local("f32", "rstd");
    emitFor(c, row, rows, 1, () => {
      const meanVector = emitRowStats(c, { x, row, j, px, mean, rstd, meanOut, rstdOut }, cols, eps);
      setRowPointer(c, px, x, row, cols * 4);
      setRowPointer(c, py, y, row, cols * 4);
      c.get(gamma).set(pg);
      c.get(beta).set(pb);
      c.get(rstd).simd("f32x4.splat");
      const rstdVector = keep(c, "rstdVector");
      forEachVector(c, j, cols, [px, py, pg, pb], (lanes) => {
        const v = loadRow(c, px, lanes);
        const g = loadRow(c, pg, lanes);
        const b = loadRow(c, pb, lanes);
        c.get(v).get(meanVector).simd("f32x4.sub").get(rstdVector).simd("f32x4.mul").get(g).simd("f32x4.mul").get(b).simd("f32x4.add").set(v);
        storeRow(c, py, v, lanes);
      });
    });
    return single(c);
  });
  return { key, kernel, run: (memory, ...offsets) => (callRun(kernel, memory, offsets), 0) };
}

/**
 * run(dy, x, gamma, mean, rstd, dx, dgamma, dbeta) with g = dy * gamma and xhat = (x - mean) * rstd:
 * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), dgamma = sum over rows of dy * xhat, dbeta = sum of dy.
 */
export function layerNormBackwardKernel(rows: number, cols: number): RowKernel<[number, number, number, number, number, number, number, number]> {
  const key = `layerNormBackward f32 rows=${rows} cols=${cols}`;
  const kernel = compileKernel(key, () => {
    const c = new CodeBuilder(["dy", "x", "gamma", "mean", "rstd", "dx", "dgamma", "dbeta"].map((n) => [n, "i32"] as const));
    const [dy, x, gamma, meanIn, rstdIn, dx, dgamma, dbeta] = c.params;
    const [row, j, pdy, px, pg, pdx, pdg, pdb] = ["row", "j", "pdy", "px", "pg", "pdx", "pdg", "pdb"].map((n) => c.local("i32", n));
    const [meanVector, rstdVector, sumG, sumGX, meanG, meanGX] = ["meanVector", "rstdVector", "sumG", "sumGX", "meanG", "meanGX"].map((n) => c.local("v128", n));
    c.get(dgamma).i32(0).i32(cols * 4).misc("memory.fill");
    c.get(dbeta).i32(0).i32(cols * 4).misc("memory.fill");
    const rowPointers = (): void => {
      setRowPointer(c, pdy, dy, row, cols * 4);
      setRowPointer(c, px, x, row, cols * 4);
      c.get(gamma).set(pg);
    };
    /** Pushes xhat and g for the current vector as new locals. */
    const load = (lanes: number): [Local, Local, Local] => {
      const d = loadRow(c, pdy, lanes);
      c.get(loadRow(c, px, lanes)).get(meanVector).simd("f32x4.sub").get(rstdVector).simd("f32x4.mul");
      const xhat = keep(c, "xhat");
      c.get(d).get(loadRow(c, pg, lanes)).simd("f32x4.mul");
      return [d, xhat, keep(c, "g")];
    };
    emitFor(c, row, rows, 1, () => {
      c.get(meanIn).get(row).i32(4).op("i32.mul").op("i32.add").mem("f32.load").simd("f32x4.splat").set(meanVector);
      c.get(rstdIn).get(row).i32(4).op("i32.mul").op("i32.add").mem("f32.load").simd("f32x4.splat").set(rstdVector);
      rowPointers();
      c.get(dgamma).set(pdg);
      c.get(dbeta).set(pdb);
      f32x4Const(c, 0).set(sumG);
      f32x4Const(c, 0).set(sumGX);
      forEachVector(c, j, cols, [pdy, px, pg, pdg, pdb], (lanes) => {
        const [d, xhat, g] = load(lanes);
        c.get(sumG).get(g).simd("f32x4.add").set(sumG);
        c.get(sumGX).get(g).get(xhat).simd("f32x4.mul").simd("f32x4.add").set(sumGX);
        c.get(loadRow(c, pdg, lanes)).get(d).get(xhat).simd("f32x4.mul").simd("f32x4.add");
        storeRow(c, pdg, keep(c, "dgamma"), lanes);
        c.get(loadRow(c, pdb, lanes)).get(d).simd("f32x4.add");
        storeRow(c, pdb, keep(c, "dbeta"), lanes);
      });
      pushHorizontal(c, sumG, "f32.add");
      c.f32(cols).op("f32.div").simd("f32x4.splat").set(meanG);
      pushHorizontal(c, sumGX, "f32.add");
      c.f32(cols).op("f32.div").simd("f32x4.splat").set(meanGX);
      rowPointers();
      setRowPointer(c, pdx, dx, row, cols * 4);
      forEachVector(c, j, cols, [pdy, px, pg, pdx], (lanes) => {
        const [, xhat, g] = load(lanes);
        c.get(g).get(meanG).simd("f32x4.sub").get(xhat).get(meanGX).simd("f32x4.mul").simd("f32x4.sub").get(rstdVector).simd("f32x4.mul");
        storeRow(c, pdx, keep(c, "dx"), lanes);
      });
    });
    return single(c);
  });
  return { key, kernel, run: (memory, ...offsets) => (callRun(kernel, memory, offsets), 0) };
}

/**
 * run(x, mean, rstd): the row statistics of the forward kernel without its output, for a backward pass
 * that did not keep them.
 */
export function layerNormStatsKernel(rows: number, cols: number, eps: number): RowKernel<[number, number, number]> {
  const key = `layerNormStats f32 rows=${rows} cols=${cols} eps=${eps}`;
  const kernel = compileKernel(key, () => {
    const c = new CodeBuilder(["x", "mean", "rstd"].map((n) => [n, "i32"] as const));
    const [x, meanOut, rstdOut] = c.params;
    const [row, j, px] = ["row", "j", "px"].map((n) => c.local("i32", n));
    const mean = c.local("f32", "mean");
    const rstd = c.local("f32", "rstd");
    emitFor(c, row, rows, 1, () => void emitRowStats(c, { x, row, j, px, mean, rstd, meanOut, rstdOut }, cols, eps));
    return single(c);
  });
  return { key, kernel, run: (memory, ...offsets) => (callRun(kernel, memory, offsets), 0) };
}

interface StatsLocals {
  readonly x: Local;
  readonly row: Local;
  readonly j: Local;
  readonly px: Local;
  readonly mean: Local;
  readonly rstd: Local;
  readonly meanOut: Local;
  readonly rstdOut: Local;
}

/** Computes and stores the mean and rstd of the current row; returns a local with the mean in all lanes. */
function emitRowStats(c: CodeBuilder, l: StatsLocals, cols: number, eps: number): Local {
  setRowPointer(c, l.px, l.x, l.row, cols * 4);
  emitRowSum(c, l.j, l.px, cols, () => f32x4Const(c, 0), (v) => c.get(v));
  c.f32(cols).op("f32.div").set(l.mean);
  setRowPointer(c, l.px, l.x, l.row, cols * 4);
  c.get(l.mean).simd("f32x4.splat");
  const meanVector = keep(c, "meanVector");
  emitRowSum(c, l.j, l.px, cols, () => c.get(meanVector), (v) => {
    c.get(v).get(meanVector).simd("f32x4.sub");
    const d = keep(c, "d");
    c.get(d).get(d).simd("f32x4.mul");
  });
  c.f32(cols).op("f32.div").f32(eps).op("f32.add").op("f32.sqrt").set(l.rstd);
  c.f32(1).get(l.rstd).op("f32.div").set(l.rstd);
  c.get(l.meanOut).get(l.row).i32(4).op("i32.mul").op("i32.add").get(l.mean).mem("f32.store");
  c.get(l.rstdOut).get(l.row).i32(4).op("i32.mul").op("i32.add").get(l.rstd).mem("f32.store");
  return meanVector;
}

/** Pushes the f32 sum over a row of f(x); `init` pushes the fill for missing lanes (f must map it to 0). */
function emitRowSum(c: CodeBuilder, j: Local, pointer: Local, cols: number, pushFill: () => void, f: (v: Local) => void): void {
  f32x4Const(c, 0);
  const sum = keep(c, "sum");
  forEachVector(c, j, cols, [pointer], (lanes) => {
    let v: Local;
    if (lanes === 4) v = loadRow(c, pointer, 4);
    else {
      pushFill();
      for (let k = 0; k < lanes; k++) c.get(pointer).mem("f32.load", 4 * k).lane("f32x4.replace_lane", k);
      v = keep(c, "x");
    }
    c.get(sum);
    f(v);
    c.simd("f32x4.add").set(sum);
  });
  pushHorizontal(c, sum, "f32.add");
}

function single(c: CodeBuilder): ModuleBuilder {
  const module = new ModuleBuilder();
  module.addFunction("run", c);
  return module;
}

function callRun(kernel: ReturnType<typeof compileKernel>, memory: WebAssembly.Memory, offsets: number[]): void {
  (instantiate(kernel, memory).exports.run as (...a: number[]) => void)(...offsets);
}
