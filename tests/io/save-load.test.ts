import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";

let folder: string;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), "nabla-save-"));
});

afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

function savedBytes(obj: unknown, name = "state.nb"): [string, Buffer] {
  const path = join(folder, name);
  nb.save(obj, path);
  return [path, readFileSync(path)];
}

describe("nb.save and nb.load", () => {
  test("tensors keep dtype, shape and data", () => {
    const tree = {
      f32: nb.tensor([[1.5, -2], [3, 4.25]]),
      f64: nb.tensor([1 / 3, Math.PI], { dtype: "float64" }),
      i32: nb.tensor(Int32Array.from([-7, 0, 2147483647])),
      flags: nb.tensor([true, false, true]),
      scalar: nb.tensor(2.5),
      empty: nb.zeros([0, 3]),
    };
    const [path] = savedBytes(tree);
    const loaded = nb.load(path) as Record<string, nb.Tensor>;

    for (const [key, original] of Object.entries(tree)) {
      expect(loaded[key]).toBeInstanceOf(nb.Tensor);
      expect(loaded[key].dtype).toBe(original.dtype);
      expect(loaded[key].shape).toEqual(original.shape);
      expect(loaded[key].toArray()).toEqual(original.toArray());
    }
  });

  test("pytree of plain values round-trips", () => {
    const tree = {
      epoch: 3,
      lr: 0.000123,
      big: 2 ** 40,
      special: [Number.NaN, Infinity, -Infinity],
      name: "run-1",
      done: false,
      nothing: null,
      nested: { list: [1, "two", { three: nb.tensor([3]) }] },
      lookalike: { t: [1, 2], o: "x" },
    };
    const [path] = savedBytes(tree);
    const loaded = nb.load(path) as typeof tree;

    expect(loaded.epoch).toBe(3);
    expect(loaded.lr).toBe(0.000123);
    expect(loaded.big).toBe(2 ** 40);
    expect(loaded.special).toEqual([Number.NaN, Infinity, -Infinity]);
    expect(loaded.name).toBe("run-1");
    expect(loaded.done).toBe(false);
    expect(loaded.nothing).toBeNull();
    expect(loaded.lookalike).toEqual({ t: [1, 2], o: "x" });
    const three = (loaded.nested.list[2] as { three: nb.Tensor }).three;
    expect(three.toArray()).toEqual(Float32Array.from([3]));
  });

  test("requiresGrad flag survives", () => {
    const [path] = savedBytes({ w: nb.ones([2], { requiresGrad: true }), b: nb.ones([2]) });
    const loaded = nb.load(path) as Record<string, nb.Tensor>;
    expect(loaded.w.requiresGrad).toBe(true);
    expect(loaded.b.requiresGrad).toBe(false);
  });

  test("state dict loads into a fresh module", () => {
    nb.random.seed(1);
    const a = new nb.nn.Linear(3, 2);
    const b = new nb.nn.Linear(3, 2);
    const [path] = savedBytes(a.stateDict());
    b.loadStateDict(nb.load(path) as Record<string, nb.Tensor>);
    expect(b.weight.toArray()).toEqual(a.weight.toArray());
    expect(b.bias?.toArray()).toEqual(a.bias?.toArray());
  });

  test("lazy tensors are realized before saving", () => {
    const x = nb.add(nb.arange(4), 1);
    const [path] = savedBytes([x]);
    expect((nb.load(path) as nb.Tensor[])[0].toArray()).toEqual(Int32Array.from([1, 2, 3, 4]));
  });

  test("unsupported values raise ValueError with path", () => {
    const path = join(folder, "bad.nb");
    expect(() => nb.save({ a: [1, new Map()] }, path)).toThrow(nb.ValueError);
    expect(() => nb.save({ a: [1, new Map()] }, path)).toThrow(/root\.a\[1\] is an instance of Map/);
    expect(() => nb.save({ f: undefined }, path)).toThrow(/root\.f is undefined/);
    expect(() => nb.save(new nb.nn.Linear(2, 2), path)).toThrow(/module\.stateDict\(\)/);
    expect(readdirSync(folder)).toEqual([]);
  });
});

describe("nb.load rejects damaged files", () => {
  test("truncated file names the file", () => {
    const [path, bytes] = savedBytes({ w: nb.ones([64]) });
    writeFileSync(path, bytes.subarray(0, bytes.length - 10));
    expect(() => nb.load(path)).toThrow(nb.SerializationError);
    expect(() => nb.load(path)).toThrow(`${path}: the file is truncated`);
  });

  test("file shorter than header", () => {
    const [path, bytes] = savedBytes({ w: nb.ones([4]) });
    writeFileSync(path, bytes.subarray(0, 20));
    expect(() => nb.load(path)).toThrow(/shorter than the 56-byte header/);
  });

  test("flipped payload byte fails the checksum", () => {
    const [path, bytes] = savedBytes({ w: nb.ones([64]) });
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 5] ^= 0xff;
    writeFileSync(path, damaged);
    expect(() => nb.load(path)).toThrow(/corrupted: the SHA-256 checksum/);
  });

  test("foreign file is rejected", () => {
    const path = join(folder, "notes.txt");
    writeFileSync(path, "this is a plain text file, not a checkpoint at all");
    expect(() => nb.load(path)).toThrow(/not an nb\.save file/);
  });

  test("missing file is a SerializationError", () => {
    const path = join(folder, "absent.nb");
    expect(() => nb.load(path)).toThrow(nb.SerializationError);
    expect(() => nb.load(path)).toThrow(/does not exist/);
  });

  test("error carries the path", () => {
    const path = join(folder, "absent.nb");
    try {
      nb.load(path);
      expect.unreachable("nb.load should raise");
    } catch (error) {
      expect((error as nb.SerializationError).path).toBe(path);
    }
  });
});

describe("atomic writes", () => {
  test("overwrite leaves no temporary file", () => {
    const path = join(folder, "state.nb");
    nb.save({ step: 1 }, path);
    nb.save({ step: 2 }, path);
    expect(readdirSync(folder)).toEqual(["state.nb"]);
    expect(nb.load(path)).toEqual({ step: 2 });
  });

  test("failed save keeps the previous file", () => {
    const path = join(folder, "state.nb");
    nb.save({ step: 1 }, path);
    expect(() => nb.save({ step: 2, bad: () => 0 }, path)).toThrow(nb.ValueError);
    expect(nb.load(path)).toEqual({ step: 1 });
  });

  test("write into a missing folder raises and leaves nothing", () => {
    const path = join(folder, "no-such-folder", "state.nb");
    expect(() => nb.save({ step: 1 }, path)).toThrow(nb.SerializationError);
    expect(() => nb.save({ step: 1 }, path)).toThrow(/the write failed/);
    expect(readdirSync(folder)).toEqual([]);
  });
});
