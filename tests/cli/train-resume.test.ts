import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";
import { defaultTrainOptions, listCheckpoints, train, type TrainOptions } from "../../src/cli/index.js";

const root = mkdtempSync(join(tmpdir(), "nabla-train-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// A tiny configuration: 64 training emails, short sequences and a one-layer model, with dropout on
// so that the checkpoint must carry the random generator's state.
function tiny(out: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...defaultTrainOptions,
    epochs: 2, batchSize: 16, seqLen: 16, lr: 3e-3, seed: 5, limit: 64,
    dModel: 16, numHeads: 2, numLayers: 1, dimFeedforward: 32, dropout: 0.1, vocabSize: 256,
    out: join(root, out), log: () => {},
    ...extra,
  };
}

describe("spam classifier job", () => {
  test("resume reproduces uninterrupted losses", () => {
    const full = train(tiny("full"));
    const first = train(tiny("resumed", { stopAfter: 1 }));
    const second = train(tiny("resumed", { resume: true }));

    expect(full.stepLosses).toHaveLength(8);
    expect(first.stepLosses).toEqual(full.stepLosses.slice(0, 4));
    expect(second.firstStep).toBe(4);
    expect(second.stepLosses).toEqual(full.stepLosses.slice(4));
    expect(second.records.map((r) => r.accuracy)).toEqual(full.records.map((r) => r.accuracy));
  });

  test("writes metrics and plot", () => {
    const out = join(root, "full");
    const csv = readFileSync(join(out, "metrics.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("epoch,train_loss,test_accuracy,test_precision,test_recall,test_f1,examples_per_second");
    expect(csv).toHaveLength(3);
    expect(readFileSync(join(out, "training.svg"), "utf8")).toMatch(/^<svg [^>]*>[\s\S]*<polyline/);
    expect(listCheckpoints(out).map((p) => p.slice(out.length + 1))).toEqual(["checkpoint-epoch-001.nb", "checkpoint-epoch-002.nb"]);
  });

  test("truncated checkpoint is rejected", () => {
    const out = join(root, "full");
    const [previous, newest] = listCheckpoints(out);
    const bytes = readFileSync(newest);
    writeFileSync(newest, bytes.subarray(0, bytes.length - 100));

    expect(() => train(tiny("full", { resume: true }))).toThrow(nb.SerializationError);
    expect(() => train(tiny("full", { resume: true }))).toThrow(`${newest}: cannot resume from this checkpoint`);
    expect(() => train(tiny("full", { resume: true }))).toThrow(`the previous checkpoint ${previous} is intact`);
    expect(existsSync(previous)).toBe(true);
  });

  test("changed flag on resume is rejected", () => {
    expect(() => train(tiny("resumed", { resume: true, lr: 1e-3 }))).toThrow(/--lr is 0\.001, but the checkpoint .* was saved with 0\.003/);
  });

  test("mesh larger than 1 is not supported", () => {
    expect(() => train(tiny("mesh", { mesh: 2 }))).toThrow(nb.NotSupportedError);
    expect(() => train(tiny("mesh", { mesh: 2 }))).toThrow(/--mesh 2: accepted values: 1/);
  });
});
