// Process lifetime: a mesh that is never disposed must let Node exit once its runs have settled.

import { execFile } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const meshModule = pathToFileURL(fileURLToPath(new URL("../../../dist/src/sharding/mesh.js", import.meta.url))).href;

/**
 * A child script that never disposes its mesh. It runs an allReduce, then a program that sleeps 300 ms
 * on each device. That is long past the 2 ms blocking wait, so the run must keep the event loop alive
 * itself. Last, a program's worker exits and the allReduce runs again on the worker that replaces it.
 */
const script = `
import { DeviceMesh } from ${JSON.stringify(meshModule)};
const mesh = new DeviceMesh([2], ["data"]);
const n = 8;
const sum = mesh.load({ name: "sum", devices: [0, 1].map(() => ({
  inputs: 1, outputs: [4 * n], temps: [],
  steps: [{ kind: "allReduce", op: "sum", axes: ["data"], dtype: "float32", count: n, input: { binding: 0 }, output: { binding: 1 } }],
})) });
const inputs = [0, 1].map((d) => [mesh.memory(d).upload(new Float32Array(n).fill(d + 1))]);
const outputs = await mesh.run(sum, inputs);
const sleep = mesh.load({ name: "sleep", devices: [0, 1].map(() => ({ inputs: 0, outputs: [], temps: [], steps: [{ kind: "sleep", ms: 300 }] })) });
await mesh.run(sleep, [[], []]);
console.log("sum", mesh.memory(1).read("float32", outputs[1][0], 1)[0]);
const exit = mesh.load({ name: "exit", devices: [{ inputs: 0, outputs: [], temps: [], steps: [{ kind: "exit", code: 3 }] }, { inputs: 0, outputs: [], temps: [], steps: [] }] });
await mesh.run(exit, [[], []]).catch((error) => console.log(error.name));
const again = await mesh.run(sum, inputs);
console.log("sum on a replacement worker", mesh.memory(0).read("float32", again[0][0], 1)[0]);
`;

const indexModule = pathToFileURL(fileURLToPath(new URL("../../../dist/src/index.js", import.meta.url))).href;

/** A script whose only pending work is `await DeviceMesh.create`: the starting workers must keep Node alive. */
const createScript = `
import * as nb from ${JSON.stringify(indexModule)};
const mesh = await nb.DeviceMesh.create([2], ["data"]);
const x = nb.shard(nb.arange(6).reshape([3, 2]), mesh, nb.P("data"));
const y = nb.compile((a) => nb.mul(a, 2))(x);
console.log(y.toArray().join(","), String(nb.shardingOf(y).spec));
`;

function runChild(source: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ["--input-type=module", "-e", source], { timeout: 15_000 }, (_, out, err) => resolve({ code: child.exitCode, stdout: out, stderr: err }));
  });
}

describe("mesh process lifetime", () => {
  it("awaiting DeviceMesh.create keeps Node alive, and an idle mesh lets it exit", async () => {
    const { code, stdout, stderr } = await runChild(createScript);
    expect(stderr).toBe("");
    expect(stdout).toBe('0,2,4,6,8,10 P("data", null)\n');
    expect(code, "exit code; 13 means Node exited with the await unsettled").toBe(0);
  });

  it("undisposed mesh lets Node exit", async () => {
    const started = Date.now();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ["--input-type=module", "-e", script], { timeout: 15_000 }, (_, out, err) => resolve({ code: child.exitCode, stdout: out, stderr: err }));
    });
    expect(stderr).toBe("");
    expect(stdout).toBe("sum 3\nDeviceError\nsum on a replacement worker 3\n");
    expect(code, "exit code; null means the child was killed after 15 s").toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
