import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import { extractShard, insertShard } from "../../src/sharding/chunks.js";

const mesh22 = { shape: [2, 2], axisNames: ["data", "model"] };

describe("ShardingSpec", () => {
  it("prints like a PartitionSpec", () => {
    expect(String(nb.P("data", null))).toBe('P("data", null)');
    expect(String(nb.P(["data", "model"]))).toBe('P(["data", "model"])');
    expect(String(new nb.ShardingSpec([null, "data"], { model: "sum" }))).toBe('P(null, "data"; partial model=sum)');
  });

  it("rejects an axis used twice", () => {
    expect(() => nb.P("data", "data")).toThrow(nb.ShardingError);
    expect(() => nb.P("data", "data")).toThrow(/axis "data" is used twice/);
    expect(() => new nb.ShardingSpec(["model"], { model: "sum" })).toThrow(/used twice/);
  });

  it("rejects an unknown partial op", () => {
    expect(() => new nb.ShardingSpec([null], { data: "mean" as never })).toThrow(/partial op "mean"/);
  });

  it("rejects a spec longer than the rank", () => {
    expect(() => nb.checkSpec(nb.P("data", null, null), [4, 6], mesh22, "weights")).toThrow(/weights: spec P\("data", null, null\) has 3 entries but the tensor has rank 2/);
  });

  it("rejects an unknown axis name", () => {
    expect(() => nb.checkSpec(nb.P("batch"), [4], mesh22, "x")).toThrow(/mesh axis "batch", but the mesh has axes \[data, model\]/);
  });

  it("pads a short spec with replicated dimensions", () => {
    expect(String(nb.checkSpec(nb.P("data"), [4, 6, 2], mesh22, "x"))).toBe('P("data", null, null)');
  });
});

describe("shard bounds", () => {
  it("splits unevenly like torch.chunk", () => {
    expect([0, 1, 2, 3].map((i) => nb.chunkBounds(10, 4, i))).toEqual([[0, 3], [3, 6], [6, 9], [9, 10]]);
    expect([0, 1, 2, 3].map((i) => nb.chunkBounds(5, 4, i))).toEqual([[0, 2], [2, 4], [4, 5], [5, 5]]);
    expect([0, 1, 2].map((i) => nb.chunkBounds(0, 3, i))).toEqual([[0, 0], [0, 0], [0, 0]]);
  });

  it("gives each device its block on a 2x2 mesh", () => {
    const spec = nb.P("model", "data");
    expect([0, 1, 2, 3].map((d) => nb.shardShape([5, 7], spec, mesh22, d))).toEqual([[3, 4], [2, 4], [3, 3], [2, 3]]);
    expect(nb.shardBounds([5, 7], spec, mesh22, 3)).toEqual([[3, 5], [4, 7]]);
  });

  it("nests several axes on one dimension", () => {
    const spec = nb.P(["data", "model"]);
    expect([0, 1, 2, 3].map((d) => nb.shardBounds([10], spec, mesh22, d)[0])).toEqual([[0, 3], [3, 5], [5, 8], [8, 10]]);
  });

  it("shards reassemble the full array", () => {
    const shape = [5, 7, 3];
    const data = Float32Array.from({ length: 105 }, (_, i) => Math.sin(i) * 10);
    const spec = nb.P("model", null, "data");
    const rebuilt = new Float32Array(105).fill(Number.NaN);
    for (let device = 0; device < 4; device++) {
      const bounds = nb.shardBounds(shape, spec, mesh22, device);
      const shard = extractShard(data, shape, bounds, (n) => new Float32Array(n));
      expect(shard.length).toBe(nb.shardShape(shape, spec, mesh22, device).reduce((a, b) => a * b, 1));
      insertShard(rebuilt, shape, bounds, shard);
    }
    expect(Array.from(rebuilt)).toEqual(Array.from(data));
  });
});
