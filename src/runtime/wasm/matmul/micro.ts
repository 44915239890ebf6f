// The register-blocked micro-kernel and the panel packers of the float32 matmul.
//
// Packed A is a sequence of MR-row panels laid out [p][row], so MR floats per k step. Packed B is a
// sequence of NR-column panels laid out [p][column], NR floats per k step. Panels past the matrix edge are padded with zeros, so
// the micro-kernel never branches on the shape.

import { CodeBuilder } from "../emitter/code.js";
import { emitErf, emitSigmoid, emitTanh } from "../math/f32x4.js";
import { f32x4Const, keep } from "../math/vector.js";

export type Activation = "none" | "relu" | "gelu" | "tanh" | "sigmoid";

export interface MicroShape {
  readonly mr: number;
  readonly nr: number;
}

/**
 * micro(pa, pb, c, ldc, bias, kc, accumulate, epilogue): C[0:MR, 0:NR] = (accumulate ? C : 0) + Apanel . Bpanel,
 * then, when `epilogue` is nonzero, C = activation(C + bias[0:NR]). `ldc` is the row pitch of C in bytes.
 */
export function buildMicroKernel({ mr, nr }: MicroShape, activation: Activation, relaxed: boolean, unroll: number): CodeBuilder {
  const c = new CodeBuilder([["pa", "i32"], ["pb", "i32"], ["c", "i32"], ["ldc", "i32"], ["bias", "i32"], ["kc", "i32"], ["accumulate", "i32"], ["epilogue", "i32"]]);
  const [pa, pb, cp, ldc, bias, kc, accumulate, epilogue] = c.params;
  const vectors = nr / 4;
  const acc = Array.from({ length: mr }, (_, r) => Array.from({ length: vectors }, (_, v) => c.local("v128", `acc${r}_${v}`)));
  const bv = Array.from({ length: vectors }, () => c.local("v128", "b"));
  const a = c.local("v128", "a");
  const p = c.local("i32", "p");
  const row = c.local("i32", "row");

  const step = (k: number): void => {
    for (let v = 0; v < vectors; v++) c.get(pb).vmem("v128.load", (k * nr + 4 * v) * 4).set(bv[v]);
    for (let r = 0; r < mr; r++) {
      c.get(pa).vmem("v128.load32_splat", (k * mr + r) * 4).set(a);
      for (let v = 0; v < vectors; v++) {
        if (relaxed) c.get(a).get(bv[v]).get(acc[r][v]).simd("f32x4.relaxed_madd");
        else c.get(acc[r][v]).get(a).get(bv[v]).simd("f32x4.mul").simd("f32x4.add");
        c.set(acc[r][v]);
      }
    }
  };
  const kLoop = (chunk: number): void => {
    // while (p + chunk <= kc) { chunk steps; advance }
    const done = c.block();
    const loop = c.loop();
    c.get(p).i32(chunk).op("i32.add").get(kc).op("i32.gt_s").brIf(done);
    for (let k = 0; k < chunk; k++) step(k);
    c.get(pa).i32(chunk * mr * 4).op("i32.add").set(pa);
    c.get(pb).i32(chunk * nr * 4).op("i32.add").set(pb);
    c.get(p).i32(chunk).op("i32.add").set(p);
    c.br(loop);
    c.end();
    c.end();
  };
  kLoop(unroll);
  if (unroll > 1) kLoop(1);

  const rowAddress = (r: number): void => {
    c.get(cp);
    if (r > 0) c.get(ldc).i32(r).op("i32.mul").op("i32.add");
  };
  c.get(accumulate);
  c.if();
  for (let r = 0; r < mr; r++) {
    rowAddress(r);
    c.set(row);
    for (let v = 0; v < vectors; v++) c.get(acc[r][v]).get(row).vmem("v128.load", 16 * v).simd("f32x4.add").set(acc[r][v]);
  }
  c.end();
  c.get(epilogue);
  c.if();
  for (let v = 0; v < vectors; v++) c.get(bias).vmem("v128.load", 16 * v).set(bv[v]);
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < vectors; v++) {
      c.get(acc[r][v]).get(bv[v]).simd("f32x4.add").set(acc[r][v]);
      emitActivation(c, activation, acc[r][v], relaxed);
    }
  }
  c.end();
  for (let r = 0; r < mr; r++) {
    rowAddress(r);
    c.set(row);
    for (let v = 0; v < vectors; v++) c.get(row).get(acc[r][v]).vmem("v128.store", 16 * v);
  }
  return c;
}

function emitActivation(c: CodeBuilder, activation: Activation, x: ReturnType<CodeBuilder["local"]>, relaxed: boolean): void {
  switch (activation) {
    case "none":
      return;
    case "relu":
      // x <= 0 selects 0, so NaN passes through.
      f32x4Const(c, 0).get(x).get(x);
      f32x4Const(c, 0).simd("f32x4.le").simd("v128.bitselect").set(x);
      return;
    case "tanh":
      c.get(emitTanh(c, x, relaxed)).set(x);
      return;
    case "sigmoid":
      c.get(emitSigmoid(c, x, relaxed)).set(x);
      return;
    case "gelu": {
      c.get(x);
      f32x4Const(c, Math.SQRT1_2).simd("f32x4.mul");
      const scaled = keep(c, "scaled");
      const e = emitErf(c, scaled, relaxed);
      c.get(e);
      f32x4Const(c, 1).simd("f32x4.add").get(x).simd("f32x4.mul");
      f32x4Const(c, 0.5).simd("f32x4.mul").set(x);
      return;
    }
    default:
      return activation satisfies never;
  }
}

/**
 * pack(src, dst, valid, kc): copies `valid` lanes (rows of A or columns of B) times `kc` k steps into
 * panels of `width` lanes, zero-filling lanes past `valid`. Lane l at step p is at
 * src + (l * laneStride + p * kStride) * 4.
 */
export function buildPacker(width: number, laneStride: number, kStride: number): CodeBuilder {
  const c = new CodeBuilder([["src", "i32"], ["dst", "i32"], ["valid", "i32"], ["kc", "i32"]]);
  const [src, dst, valid, kc] = c.params;
  const p = c.local("i32", "p");
  const from = c.local("i32", "from");

  const panels = c.block();
  const panelLoop = c.loop();
  c.get(valid).i32(0).op("i32.le_s").brIf(panels);
  c.get(src).set(from);
  c.i32(0).set(p);
  c.get(valid).i32(width).op("i32.ge_s");
  c.if();
  forSteps(c, p, kc, () => {
    copyFullPanelStep(c, width, laneStride, from, dst);
    c.get(from).i32(kStride * 4).op("i32.add").set(from);
    c.get(dst).i32(width * 4).op("i32.add").set(dst);
  });
  c.else();
  forSteps(c, p, kc, () => {
    for (let lane = 0; lane < width; lane++) {
      c.i32(lane).get(valid).op("i32.lt_s");
      c.if();
      c.get(dst).get(from).mem("f32.load", lane * laneStride * 4).mem("f32.store", lane * 4);
      c.else();
      c.get(dst).f32(0).mem("f32.store", lane * 4);
      c.end();
    }
    c.get(from).i32(kStride * 4).op("i32.add").set(from);
    c.get(dst).i32(width * 4).op("i32.add").set(dst);
  });
  c.end();
  c.get(src).i32(width * laneStride * 4).op("i32.add").set(src);
  c.get(valid).i32(width).op("i32.sub").set(valid);
  c.br(panelLoop);
  c.end();
  c.end();
  return c;
}

/**
 * Builds a packer with the contract of buildPacker for operands whose lanes are contiguous (laneStride = 1).
 * It walks the source row by row (one k step at a time) and scatters each row across the panels. Reading whole
 * rows avoids the cache-set conflicts of walking a column of short segments at a power-of-two stride.
 */
export function buildRowPacker(width: number, kStride: number): CodeBuilder {
  const c = new CodeBuilder([["src", "i32"], ["dst", "i32"], ["valid", "i32"], ["kc", "i32"]]);
  const [src, dst, valid, kc] = c.params;
  const p = c.local("i32", "p");
  const from = c.local("i32", "from");
  const to = c.local("i32", "to");
  const left = c.local("i32", "left");
  const panelBytes = c.local("i32", "panelBytes");
  c.get(kc).i32(width * 4).op("i32.mul").set(panelBytes);
  forSteps(c, p, kc, () => {
    c.get(src).get(p).i32(kStride * 4).op("i32.mul").op("i32.add").set(from);
    c.get(dst).get(p).i32(width * 4).op("i32.mul").op("i32.add").set(to);
    c.get(valid).set(left);
    const done = c.block();
    const panels = c.loop();
    c.get(left).i32(width).op("i32.lt_s").brIf(done);
    copyFullPanelStep(c, width, 1, from, to);
    c.get(from).i32(width * 4).op("i32.add").set(from);
    c.get(to).get(panelBytes).op("i32.add").set(to);
    c.get(left).i32(width).op("i32.sub").set(left);
    c.br(panels);
    c.end();
    c.end();
    // A partial last panel: copy the remaining lanes and zero the rest.
    c.get(left).i32(0).op("i32.gt_s");
    c.if();
    for (let lane = 0; lane < width; lane++) {
      c.i32(lane).get(left).op("i32.lt_s");
      c.if();
      c.get(to).get(from).mem("f32.load", lane * 4).mem("f32.store", lane * 4);
      c.else();
      c.get(to).f32(0).mem("f32.store", lane * 4);
      c.end();
    }
    c.end();
  });
  return c;
}

function copyFullPanelStep(c: CodeBuilder, width: number, laneStride: number, from: ReturnType<CodeBuilder["local"]>, dst: ReturnType<CodeBuilder["local"]>): void {
  if (laneStride === 1) {
    let lane = 0;
    for (; lane + 4 <= width; lane += 4) c.get(dst).get(from).vmem("v128.load", lane * 4).vmem("v128.store", lane * 4);
    for (; lane < width; lane++) c.get(dst).get(from).mem("f32.load", lane * 4).mem("f32.store", lane * 4);
    return;
  }
  for (let lane = 0; lane < width; lane++) c.get(dst).get(from).mem("f32.load", lane * laneStride * 4).mem("f32.store", lane * 4);
}

/** for (p = 0; p < kc; p++) body(), with kc a runtime value. */
function forSteps(c: CodeBuilder, p: ReturnType<CodeBuilder["local"]>, kc: ReturnType<CodeBuilder["local"]>, body: () => void): void {
  c.i32(0).set(p);
  const done = c.block();
  const loop = c.loop();
  c.get(p).get(kc).op("i32.ge_s").brIf(done);
  body();
  c.get(p).i32(1).op("i32.add").set(p);
  c.br(loop);
  c.end();
  c.end();
}
