import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";
import { defaultTrainOptions, listCheckpoints, loadCheckpoint, planLayout, rowsPerDevice, train, type TrainOptions } from "../../src/cli/index.js";

const root = mkdtempSync(join(tmpdir(), "nabla-train-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// A tiny configuration: 68 training and 17 test emails, short sequences and a one-layer model, with
// dropout on so that the checkpoint must carry the random generator's state. The last test batch has
// one email, so on a [2] mesh the evaluation also runs with an empty shard.
function tiny(out: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...defaultTrainOptions,
    epochs: 2, batchSize: 16, seqLen: 16, lr: 3e-3, seed: 5, limit: 68, mesh: [1],
    dModel: 16, numHeads: 2, numLayers: 1, dimFeedforward: 32, dropout: 0.1, vocabSize: 256,
    out: join(root, out), log: () => {},
    ...extra,
  };
}

function expectClose(actual: readonly number[], expected: readonly number[], tolerance: number): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(Math.abs(value - expected[i])).toBeLessThanOrEqual(tolerance));
}

describe("spam classifier job", () => {
  test("resume reproduces uninterrupted losses", async () => {
    const full = await train(tiny("full"));
    const first = await train(tiny("resumed", { stopAfter: 1 }));
    const second = await train(tiny("resumed", { resume: true }));

    expect(full.stepLosses).toHaveLength(8);
    expect(first.stepLosses).toEqual(full.stepLosses.slice(0, 4));
    expect(second.firstStep).toBe(4);
    expect(second.stepLosses).toEqual(full.stepLosses.slice(4));
    expect(second.records.map((r) => r.accuracy)).toEqual(full.records.map((r) => r.accuracy));
  });

  test("resume on mesh [2] reproduces its losses", async () => {
    const full = await train(tiny("mesh2-full", { mesh: [2] }));
    const first = await train(tiny("mesh2-resumed", { mesh: [2], stopAfter: 1 }));
    const second = await train(tiny("mesh2-resumed", { mesh: [2], resume: true }));

    expect(full.stepLosses).toHaveLength(8);
    expect(first.stepLosses).toEqual(full.stepLosses.slice(0, 4));
    expect(second.firstStep).toBe(4);
    expect(second.stepLosses).toEqual(full.stepLosses.slice(4));
    expect(second.records.map((r) => r.accuracy)).toEqual(full.records.map((r) => r.accuracy));
    expect(loadCheckpoint(listCheckpoints(join(root, "mesh2-full")).at(-1) as string, root).meshShape).toEqual([2]);
  });

  test("mesh [2] matches one device", async () => {
    const single = await train(tiny("full-again"));
    const sharded = await train(tiny("mesh2-again", { mesh: [2] }));
    expectClose(sharded.stepLosses, single.stepLosses, 1e-4);
  });

  test("mesh [2, 2] matches one device", async () => {
    expect(rowsPerDevice(16, planLayout([2, 2]))).toEqual([4, 4, 4, 4]);
    const single = await train(tiny("grid-1", { epochs: 1 }));
    const grid = await train(tiny("grid-4", { epochs: 1, mesh: [2, 2] }));
    expectClose(grid.stepLosses, single.stepLosses, 1e-4);
  });

  test("uneven batch split trains", async () => {
    expect(rowsPerDevice(15, planLayout([2]))).toEqual([8, 7]);
    const single = await train(tiny("uneven-1", { batchSize: 15 }));
    const sharded = await train(tiny("uneven-2", { batchSize: 15, mesh: [2] }));
    expect(sharded.stepLosses).toHaveLength(8);
    expectClose(sharded.stepLosses, single.stepLosses, 1e-4);
  });

  test("writes metrics and plot", () => {
    const out = join(root, "full");
    const csv = readFileSync(join(out, "metrics.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("epoch,train_loss,test_accuracy,test_precision,test_recall,test_f1,examples_per_second");
    expect(csv).toHaveLength(3);
    expect(readFileSync(join(out, "training.svg"), "utf8")).toMatch(/^<svg [^>]*>[\s\S]*<polyline/);
    expect(listCheckpoints(out).map((p) => p.slice(out.length + 1))).toEqual(["checkpoint-epoch-001.nb", "checkpoint-epoch-002.nb"]);
  });

  test("truncated checkpoint is rejected", async () => {
    const out = join(root, "full");
    const [previous, newest] = listCheckpoints(out);
    const bytes = readFileSync(newest);
    writeFileSync(newest, bytes.subarray(0, bytes.length - 100));

    await expect(train(tiny("full", { resume: true }))).rejects.toThrow(nb.SerializationError);
    await expect(train(tiny("full", { resume: true }))).rejects.toThrow(`${newest}: cannot resume from this checkpoint`);
    await expect(train(tiny("full", { resume: true }))).rejects.toThrow(`the previous checkpoint ${previous} is intact`);
    expect(existsSync(previous)).toBe(true);
  });

  test("changed flag on resume is rejected", async () => {
    await expect(train(tiny("resumed", { resume: true, lr: 1e-3 }))).rejects.toThrow(/--lr is 0\.001, but the checkpoint .* was saved with 0\.003/);
  });

  test("batch that idles a device is rejected", async () => {
    await expect(train(tiny("idle", { mesh: [4], batchSize: 9 }))).rejects.toThrow(nb.ValueError);
    await expect(train(tiny("idle", { mesh: [4], batchSize: 9 }))).rejects.toThrow(
      "--batch-size 9 leaves device 3 of --mesh 4 without emails (split 3 + 3 + 3 + 0); pass a multiple of 4 such as 8 or 12, or a smaller --mesh",
    );
    await expect(train(tiny("idle", { mesh: [2, 2], batchSize: 2 }))).rejects.toThrow("--batch-size 2 leaves device 1 of --mesh 2,2 without emails");
    expect(existsSync(join(root, "idle"))).toBe(false);
  });
});
