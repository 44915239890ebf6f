// The loop nest of the matmul kernel and the scalar edge-tile copies; see kernel.ts for the blocking.

import { CodeBuilder, type Local } from "../emitter/code.js";
import type { MicroShape } from "./micro.js";
import type { MatmulSpec } from "./spec.js";

export interface DriverBlocking extends MicroShape {
  readonly kcBlock: number;
  readonly mcBlock: number;
  readonly ncBlock: number;
}


export interface WorkLayout {
  readonly packedA: number;
  readonly packedB: number;
  readonly tile: number;
  readonly tileBias: number;
}

/** Function indices of the helpers the driver calls. */
export interface DriverFunctions {
  readonly micro: number;
  readonly packA: number;
  readonly packB: number;
  readonly edgeIn: number;
  readonly edgeOut: number;
}

/** Emits `for (counter = 0; counter < total; counter += step) { size = min(step, total - counter); body() }`. */
function forBlocks(c: CodeBuilder, counter: Local, size: Local, total: number, step: number, body: () => void): void {
  c.i32(0).set(counter);
  const loop = c.loop();
  c.i32(total).get(counter).op("i32.sub").set(size);
  c.get(size).i32(step).op("i32.gt_s");
  c.if();
  c.i32(step).set(size);
  c.end();
  body();
  c.get(counter).i32(step).op("i32.add").tee(counter).i32(total).op("i32.lt_s").brIf(loop);
  c.end();
}

/** run(a, b, c, bias, work): the whole batched product. */
export function buildDriver(spec: MatmulSpec, blocking: DriverBlocking, work: WorkLayout, fn: DriverFunctions): CodeBuilder {
  const { batch, m, k, n } = spec;
  const { mr, nr, kcBlock, mcBlock, ncBlock } = blocking;
  const c = new CodeBuilder([["a", "i32"], ["b", "i32"], ["c", "i32"], ["bias", "i32"], ["work", "i32"]]);
  const [a, b, cOut, bias, workBase] = c.params;
  const [batchIndex, jc, nc, pc, kc, ic, mc, jr, cols, ir, rows] = ["batch", "jc", "nc", "pc", "kc", "ic", "mc", "jr", "cols", "ir", "rows"].map((name) => c.local("i32", name));
  const aBase = c.local("i32", "aBase");
  const bBase = c.local("i32", "bBase");
  const cBase = c.local("i32", "cBase");
  const cTile = c.local("i32", "cTile");
  const accumulate = c.local("i32", "accumulate");
  const epilogue = c.local("i32", "epilogue");
  const strideA = spec.batchStrideA ?? m * k;
  const strideB = spec.batchStrideB ?? k * n;
  const hasEpilogue = spec.bias === true;

  const pushWork = (offset: number): void => {
    c.get(workBase);
    if (offset !== 0) c.i32(offset).op("i32.add");
  };
  /** Pushes base + (row * rowStride + col * colStride) * 4 for i32 locals row and col. */
  const pushAddress = (base: Local, row: Local, rowStride: number, col: Local, colStride: number): void => {
    c.get(base).get(row).i32(rowStride * 4).op("i32.mul").op("i32.add").get(col).i32(colStride * 4).op("i32.mul").op("i32.add");
  };

  c.i32(0).set(batchIndex);
  const batchLoop = c.loop();
  c.get(a).get(batchIndex).i32(strideA * 4).op("i32.mul").op("i32.add").set(aBase);
  c.get(b).get(batchIndex).i32(strideB * 4).op("i32.mul").op("i32.add").set(bBase);
  c.get(cOut).get(batchIndex).i32(m * n * 4).op("i32.mul").op("i32.add").set(cBase);

  forBlocks(c, jc, nc, n, ncBlock, () => {
    forBlocks(c, pc, kc, k, kcBlock, () => {
      c.get(pc).i32(0).op("i32.ne").set(accumulate);
      if (hasEpilogue) c.get(pc).get(kc).op("i32.add").i32(k).op("i32.eq").set(epilogue);
      else c.i32(0).set(epilogue);
      // B block rows pc.., columns jc..: stored [K, N] or [N, K].
      if (spec.transB) pushAddress(bBase, jc, k, pc, 1);
      else pushAddress(bBase, pc, n, jc, 1);
      pushWork(work.packedB);
      c.get(nc).get(kc).call(fn.packB, "packB");

      forBlocks(c, ic, mc, m, mcBlock, () => {
        if (spec.transA) pushAddress(aBase, pc, m, ic, 1);
        else pushAddress(aBase, ic, k, pc, 1);
        pushWork(work.packedA);
        c.get(mc).get(kc).call(fn.packA, "packA");

        forBlocks(c, jr, cols, ncBlock, nr, () => {
          const outside = c.block();
          c.get(jr).get(nc).op("i32.ge_s").brIf(outside);
          c.get(nc).get(jr).op("i32.sub").set(cols);
          c.get(cols).i32(nr).op("i32.gt_s");
          c.if();
          c.i32(nr).set(cols);
          c.end();
          forBlocks(c, ir, rows, mcBlock, mr, () => {
            const skip = c.block();
            c.get(ir).get(mc).op("i32.ge_s").brIf(skip);
            c.get(mc).get(ir).op("i32.sub").set(rows);
            c.get(rows).i32(mr).op("i32.gt_s");
            c.if();
            c.i32(mr).set(rows);
            c.end();
            emitTile();
            c.end();
          });
          c.end();
        });
      });
    });
  });

  c.get(batchIndex).i32(1).op("i32.add").tee(batchIndex).i32(batch).op("i32.lt_s").brIf(batchLoop);
  c.end();
  return c;

  function emitTile(): void {
    // C tile address: cBase + ((ic + ir) * n + jc + jr) * 4.
    c.get(cBase).get(ic).get(ir).op("i32.add").i32(n * 4).op("i32.mul").op("i32.add");
    c.get(jc).get(jr).op("i32.add").i32(4).op("i32.mul").op("i32.add").set(cTile);
    const pushPanels = (): void => {
      pushWork(work.packedA);
      c.get(ir).get(kc).op("i32.mul").i32(4).op("i32.mul").op("i32.add");
      pushWork(work.packedB);
      c.get(jr).get(kc).op("i32.mul").i32(4).op("i32.mul").op("i32.add");
    };
    c.get(rows).i32(mr).op("i32.eq").get(cols).i32(nr).op("i32.eq").op("i32.and");
    c.if();
    pushPanels();
    c.get(cTile).i32(n * 4);
    c.get(bias).get(jc).get(jr).op("i32.add").i32(4).op("i32.mul").op("i32.add");
    c.get(kc).get(accumulate).get(epilogue).call(fn.micro, "micro");
    c.else();
    c.get(cTile);
    pushWork(work.tile);
    c.get(bias).get(jc).get(jr).op("i32.add").i32(4).op("i32.mul").op("i32.add");
    pushWork(work.tileBias);
    c.get(rows).get(cols).get(accumulate).get(epilogue).call(fn.edgeIn, "edgeIn");
    pushPanels();
    pushWork(work.tile);
    c.i32(nr * 4);
    pushWork(work.tileBias);
    c.get(kc).get(accumulate).get(epilogue).call(fn.micro, "micro");
    pushWork(work.tile);
    c.get(cTile).get(rows).get(cols).call(fn.edgeOut, "edgeOut");
    c.end();
  }
}

/**
 * edgeIn(c, tile, bias, tileBias, rows, cols, accumulate, epilogue): zeroes the MR x NR tile, copies the
 * valid rows x cols of C into it when accumulating, and the valid bias entries when the epilogue runs.
 */
export function buildEdgeIn({ mr, nr }: MicroShape, n: number): CodeBuilder {
  const c = new CodeBuilder([["c", "i32"], ["tile", "i32"], ["bias", "i32"], ["tileBias", "i32"], ["rows", "i32"], ["cols", "i32"], ["accumulate", "i32"], ["epilogue", "i32"]]);
  const [cp, tile, bias, tileBias, rows, cols, accumulate, epilogue] = c.params;
  const r = c.local("i32", "r");
  const j = c.local("i32", "j");
  c.get(tile).i32(0).i32((mr * nr + nr) * 4).misc("memory.fill");
  c.get(accumulate);
  c.if();
  forRuntime(c, r, rows, () => {
    forRuntime(c, j, cols, () => {
      c.get(tile).get(r).i32(nr).op("i32.mul").get(j).op("i32.add").i32(4).op("i32.mul").op("i32.add");
      c.get(cp).get(r).i32(n).op("i32.mul").get(j).op("i32.add").i32(4).op("i32.mul").op("i32.add").mem("f32.load");
      c.mem("f32.store");
    });
  });
  c.end();
  c.get(epilogue);
  c.if();
  forRuntime(c, j, cols, () => {
    c.get(tileBias).get(j).i32(4).op("i32.mul").op("i32.add");
    c.get(bias).get(j).i32(4).op("i32.mul").op("i32.add").mem("f32.load");
    c.mem("f32.store");
  });
  c.end();
  return c;
}

/** edgeOut(tile, c, rows, cols): copies the valid rows x cols of the tile back to C. */
export function buildEdgeOut({ nr }: MicroShape, n: number): CodeBuilder {
  const c = new CodeBuilder([["tile", "i32"], ["c", "i32"], ["rows", "i32"], ["cols", "i32"]]);
  const [tile, cp, rows, cols] = c.params;
  const r = c.local("i32", "r");
  const j = c.local("i32", "j");
  forRuntime(c, r, rows, () => {
    forRuntime(c, j, cols, () => {
      c.get(cp).get(r).i32(n).op("i32.mul").get(j).op("i32.add").i32(4).op("i32.mul").op("i32.add");
      c.get(tile).get(r).i32(nr).op("i32.mul").get(j).op("i32.add").i32(4).op("i32.mul").op("i32.add").mem("f32.load");
      c.mem("f32.store");
    });
  });
  return c;
}

/** for (i = 0; i < count; i++) body(), with count a runtime i32. */
function forRuntime(c: CodeBuilder, i: Local, count: Local, body: () => void): void {
  c.i32(0).set(i);
  const done = c.block();
  const loop = c.loop();
  c.get(i).get(count).op("i32.ge_s").brIf(done);
  body();
  c.get(i).i32(1).op("i32.add").set(i);
  c.br(loop);
  c.end();
  c.end();
}
