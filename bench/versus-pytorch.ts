// nabla-ts against PyTorch on the same training steps, per requested mesh shape: the seed Transformer,
// a larger Transformer (d_model 256, 8 heads, 4 layers, feed-forward 1024, seq 64, batch 64) and a
// 784-1024-1024-10 MLP at batch 256. PyTorch runs at 1 and 2 threads through bench/pytorch_steps.py
// when /usr/bin/python3 can import torch. Writes bench/results/versus-pytorch.{json,md}.

import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import * as nb from "nabla-ts";
import { makeSyntheticTask, TransformerClassifier, type ClassifierConfig } from "../examples/lib/transformer-classifier.js";
import { functionalStep } from "../examples/lib/training.js";

interface Case {
  readonly name: string;
  readonly torchName: string;
  readonly examplesPerStep: number;
  readonly steps: number;
  /** Builds the compiled step and returns a function that runs one step and waits for its loss. */
  readonly setup: () => () => void;
}

function transformerCase(name: string, torchName: string, config: ClassifierConfig, batch: number, steps: number): Case {
  return {
    name, torchName, steps, examplesPerStep: batch,
    setup: () => {
      nb.random.seed(0);
      const task = makeSyntheticTask(42, batch, config.maxLen, config.vocabSize, config.numClasses);
      let model = new TransformerClassifier(config);
      model.eval();
      let state = nb.nn.optim.adamwInit(model);
      const step = nb.compile(functionalStep);
      return () => {
        let loss: nb.Tensor;
        [model, state, loss] = step(model, state, task.tokens, task.labelsOneHot);
        loss.item();
      };
    },
  };
}

class Mlp extends nb.nn.Module {
  first = new nb.nn.Linear(784, 1024);
  second = new nb.nn.Linear(1024, 1024);
  third = new nb.nn.Linear(1024, 10);
  override forward(x: nb.Tensor): nb.Tensor {
    return this.third.call(nb.relu(this.second.call(nb.relu(this.first.call(x)))));
  }
}

const mlpCase: Case = {
  name: "MLP 784-1024-1024-10, batch 256", torchName: "mlp", examplesPerStep: 256, steps: 10,
  setup: () => {
    nb.random.seed(0);
    const x = nb.random.normal([256, 784]);
    const y = nb.random.randint([256], 0, 10);
    let model = new Mlp();
    let state = nb.nn.optim.sgdInit(model);
    const lossFn = (m: Mlp) => nb.nn.functional.crossEntropyLoss(m.call(x), y);
    const step = nb.compile((m: Mlp, s: nb.nn.optim.SgdState) => {
      const [loss, grads] = nb.valueAndGrad(lossFn)(m) as [nb.Tensor, Mlp];
      const [next, nextState] = nb.nn.optim.sgdUpdate(m, grads, s, { lr: 0.05 });
      return [next, nextState, loss] as const;
    });
    return () => {
      let loss: nb.Tensor;
      [model, state, loss] = step(model, state);
      loss.item();
    };
  },
};

const seedConfig: ClassifierConfig = { vocabSize: 20, dModel: 32, numHeads: 4, numLayers: 2, numClasses: 3, maxLen: 8, dimFeedforward: 64 };
const largeConfig: ClassifierConfig = { vocabSize: 1000, dModel: 256, numHeads: 8, numLayers: 4, numClasses: 2, maxLen: 64, dimFeedforward: 1024 };

function parseMeshes(argv: readonly string[]): number[][] {
  const at = argv.indexOf("--mesh");
  if (at < 0) return [[1]];
  const value = argv[at + 1] ?? "";
  const meshes = value.split(",").map((part) => part.split("x").map(Number));
  if (meshes.some((m) => m.some((d) => !Number.isInteger(d) || d < 1))) {
    throw new Error(`--mesh: invalid value ${JSON.stringify(value)}; give device counts like 1,2 (or shapes like 1,2x2)`);
  }
  return meshes;
}

function medianMs(run: () => void, steps: number): number {
  run();
  run();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function torchAvailable(): string | null {
  const probe = spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8" });
  return probe.status === 0 ? null : (probe.stderr || probe.error?.message || "import torch failed").trim().split("\n").pop() ?? "";
}

function torchMs(model: string, threads: number, steps: number): number | null {
  const script = fileURLToPath(new URL("./pytorch_steps.py", import.meta.url));
  const result = spawnSync("/usr/bin/python3", [script, model, String(threads), String(steps)], {
    encoding: "utf8",
    env: { ...process.env, OMP_WAIT_POLICY: "PASSIVE" },
    timeout: 600_000,
  });
  if (result.status !== 0) {
    console.error(`PyTorch ${model} at ${threads} threads failed: ${result.stderr.trim().split("\n").pop()}`);
    return null;
  }
  return (JSON.parse(result.stdout.trim().split("\n").pop() as string) as { median_ms: number }).median_ms;
}

interface ResultRow {
  benchmark: string;
  subject: string;
  msPerStep: number | null;
  examplesPerSecond: number | null;
  note?: string;
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const meshes = parseMeshes(process.argv);
  const cases = [
    transformerCase("seed Transformer (d_model 32, batch 150, seq 8)", "seed", seedConfig, 150, quick ? 10 : 30),
    transformerCase("large Transformer (d_model 256, batch 64, seq 64)", "large", largeConfig, 64, quick ? 2 : 5),
    mlpCase,
  ];
  const torchMissing = torchAvailable();
  if (torchMissing !== null) console.log(`PyTorch comparison skipped: /usr/bin/python3 cannot import torch (${torchMissing}); install python3-torch`);

  const rows: ResultRow[] = [];
  for (const c of cases) {
    for (const mesh of meshes) {
      const devices = mesh.reduce((a, b) => a * b, 1);
      const subject = `nabla-ts mesh [${mesh.join(", ")}]`;
      if (devices !== 1) {
        // NOTE: partitioned programs do not run on a DeviceMesh yet, so only the one-device mesh is measured.
        rows.push({ benchmark: c.name, subject, msPerStep: null, examplesPerSecond: null, note: "not available: sharded execution on a mesh is not implemented yet" });
        continue;
      }
      const ms = medianMs(c.setup(), c.steps);
      rows.push({ benchmark: c.name, subject, msPerStep: ms, examplesPerSecond: (c.examplesPerStep * 1000) / ms });
    }
    if (torchMissing === null) {
      for (const threads of [1, 2]) {
        const ms = torchMs(c.torchName, threads, c.steps);
        rows.push({ benchmark: c.name, subject: `PyTorch ${threads} thread${threads > 1 ? "s" : ""}`, msPerStep: ms, examplesPerSecond: ms === null ? null : (c.examplesPerStep * 1000) / ms });
      }
    }
  }
  report(rows);
}

function report(rows: readonly ResultRow[]): void {
  const lines = rows.map((r) => {
    const ours = rows.find((o) => o.benchmark === r.benchmark && o.subject === "nabla-ts mesh [1]");
    const ratio = r.msPerStep !== null && ours?.msPerStep != null ? (ours.msPerStep / r.msPerStep).toFixed(2) : "";
    return [r.benchmark, r.subject, r.msPerStep?.toFixed(2) ?? "-", r.examplesPerSecond?.toFixed(0) ?? "-", r.subject.startsWith("PyTorch") ? ratio : "", r.note ?? ""];
  });
  const header = ["benchmark", "subject", "ms/step", "examples/s", "nabla [1] / this", "note"];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  for (const line of [header, ...lines]) console.log(line.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());

  const record = { date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, loadAverage: loadavg(), rows };
  const markdown = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...lines.map((l) => `| ${l.join(" | ")} |`)].join("\n");
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/versus-pytorch.json", import.meta.url), `${JSON.stringify(record, null, 2)}\n`);
  writeFileSync(new URL("./results/versus-pytorch.md", import.meta.url), `${markdown}\n`);
}

await main();
