// Synchronous runs (every compiled call on a mesh) report worker exits as exits, and the mesh's
// start-up and disposal give clear errors.

import { describe, expect, it } from "vitest";
import * as nb from "../../../src/index.js";
import type { Program } from "../../../src/runtime/mesh/program.js";
import { collectiveProgram } from "../../../src/runtime/mesh/builders.js";
import { MeshTopology } from "../../../src/runtime/mesh/topology.js";

describe("synchronous runs", () => {
  it("report a worker exit at once, and ready() replaces the worker", async () => {
    const mesh = await nb.DeviceMesh.create([2], ["x"], { timeoutMs: 20_000, stopGraceMs: 300 });
    try {
      const program: Program = {
        name: "exits",
        devices: [
          { inputs: 0, outputs: [], temps: [], steps: [{ kind: "exit", code: 7 }] },
          { inputs: 0, outputs: [], temps: [], steps: [] },
        ],
      };
      const started = Date.now();
      let error: unknown;
      try {
        mesh.runSync(mesh.load(program), [[], []]);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(nb.DeviceError);
      expect(error).not.toBeInstanceOf(nb.TimeoutError);
      expect((error as Error).message).toMatch(/the worker of device 0 exited during step 0 \(exit\) \(the worker called process\.exit\(7\)\)/);
      expect(Date.now() - started, "reported before the 20 s timeout").toBeLessThan(10_000);

      const f = nb.compile((a: nb.Tensor) => nb.mul(a, 3));
      const x = nb.shard(nb.tensor([1, 2, 3]), mesh, nb.P("x"));
      expect(() => f(x)).toThrow(/await mesh\.ready\(\)/);
      await mesh.ready();
      expect(Array.from(f(x).toArray())).toEqual([3, 6, 9]);
    } finally {
      await mesh.dispose();
    }
  }, 30_000);

  it("name ready() when a compiled call runs while it is pending", async () => {
    const mesh = new nb.DeviceMesh([2], ["x"]);
    const ready = mesh.ready();
    const f = nb.compile((a: nb.Tensor) => nb.tanh(a));
    expect(() => f(nb.shard(nb.tensor([0.5, -1, 2]), mesh, nb.P("x")))).toThrow(/still starting its workers; await mesh\.ready\(\)/);
    await ready;
    await mesh.dispose();
  }, 30_000);

  it("reject a pending ready() of a disposed mesh as disposed", async () => {
    const mesh = new nb.DeviceMesh([2], ["x"]);
    const outcome = mesh.ready().then(
      () => "resolved",
      (error: Error) => error.message,
    );
    await mesh.dispose();
    expect(await outcome).toMatch(/disposed/);
  }, 30_000);

  it("collectiveProgram takes a custom name", () => {
    const program = collectiveProgram(new MeshTopology([2], ["x"]), { kind: "allReduce", op: "sum", axes: ["x"], dtype: "float32", count: 4 }, "my-name");
    expect(program.name).toBe("my-name");
  });
});

describe("nested compile", () => {
  it("traces a compiled function that calls another one", () => {
    const inner = nb.compile((a: nb.Tensor) => nb.mul(nb.tanh(a), 2));
    const outer = nb.compile((a: nb.Tensor) => nb.sum(nb.add(inner(a), 1)));
    const x = nb.tensor([0.5, -1, 2]);
    const expected = Array.from(x.toArray()).reduce((s, v) => s + 2 * Math.tanh(v) + 1, 0);
    expect(outer(x).item()).toBeCloseTo(expected, 5);
    expect(outer.stats.fallbacks).toBe(0);
    expect(outer.stats.misses).toBe(1);
  });
});
