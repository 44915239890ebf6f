// Output of the training job: the progress bar, metrics.csv and an SVG plot of loss and accuracy.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Scores } from "./metrics.js";

/** One row of metrics.csv: an epoch's mean training loss, test scores and throughput. */
export interface EpochRecord extends Scores {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly examplesPerSecond: number;
}

/** A progress line on stderr, redrawn in place on a terminal and printed every 10% otherwise. */
export class ProgressBar {
  readonly #total: number;
  readonly #label: string;
  readonly #tty = process.stderr.isTTY === true;
  #lastDecile = -1;

  constructor(label: string, total: number) {
    this.#label = label;
    this.#total = total;
  }

  update(done: number, loss: number, examplesPerSecond: number): void {
    const width = 24;
    const filled = Math.round((done / this.#total) * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const line = `${this.#label} [${bar}] ${done}/${this.#total} loss ${loss.toFixed(4)} ${examplesPerSecond.toFixed(0)} examples/s`;
    if (this.#tty) {
      process.stderr.write(`\r${line}`);
      return;
    }
    const decile = Math.floor((done / this.#total) * 10);
    if (decile !== this.#lastDecile) {
      this.#lastDecile = decile;
      process.stderr.write(`${line}\n`);
    }
  }

  finish(): void {
    if (this.#tty) process.stderr.write("\n");
  }
}

/** Writes metrics.csv (one row per epoch) into `folder`. */
export function writeMetricsCsv(folder: string, records: readonly EpochRecord[]): void {
  const header = "epoch,train_loss,test_accuracy,test_precision,test_recall,test_f1,examples_per_second";
  const rows = records.map((r) =>
    [r.epoch, r.trainLoss.toFixed(6), r.accuracy.toFixed(6), r.precision.toFixed(6), r.recall.toFixed(6), r.f1.toFixed(6), r.examplesPerSecond.toFixed(1)].join(","),
  );
  writeFileSync(join(folder, "metrics.csv"), `${[header, ...rows].join("\n")}\n`);
}

/** Writes training.svg into `folder`: training loss per step (left) and test accuracy per epoch (right). */
export function writePlot(folder: string, stepLosses: readonly number[], records: readonly EpochRecord[], baselineAccuracy: number): void {
  const lossPanel = linePanel({
    title: "training loss per step",
    x0: 50,
    values: stepLosses,
    yMin: 0,
    yMax: Math.max(0.1, ...stepLosses.filter(Number.isFinite)),
  });
  const accuracies = records.map((r) => r.accuracy);
  const lowest = Math.min(baselineAccuracy, ...accuracies);
  const accuracyPanel = linePanel({
    title: "test accuracy per epoch (dashed: baseline)",
    x0: 400,
    values: accuracies,
    yMin: Math.max(0, Math.floor(lowest * 20) / 20 - 0.05),
    yMax: 1,
    reference: baselineAccuracy,
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="300" font-family="sans-serif" font-size="11">\n` +
    `<rect width="720" height="300" fill="white"/>\n${lossPanel}${accuracyPanel}</svg>\n`;
  writeFileSync(join(folder, "training.svg"), svg);
}

interface PanelOptions {
  readonly title: string;
  /** Left edge of the plot area in pixels. */
  readonly x0: number;
  readonly values: readonly number[];
  readonly yMin: number;
  readonly yMax: number;
  /** A horizontal dashed line at this value. */
  readonly reference?: number;
}

/** Draws one 280 x 200 pixel line chart with its axes, tick labels at the ends and the title. */
function linePanel(options: PanelOptions): string {
  const { title, x0, values, yMin, yMax, reference } = options;
  const [width, height, y0] = [280, 200, 250];
  const x = (i: number): number => x0 + (values.length <= 1 ? width / 2 : (i / (values.length - 1)) * width);
  const y = (v: number): number => y0 - ((Math.min(Math.max(v, yMin), yMax) - yMin) / (yMax - yMin || 1)) * height;
  const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const parts = [
    `<text x="${x0}" y="35">${title}</text>`,
    `<path d="M${x0},${y0 - height} V${y0} H${x0 + width}" fill="none" stroke="black"/>`,
    `<text x="${x0 - 6}" y="${y0}" text-anchor="end">${yMin.toFixed(2)}</text>`,
    `<text x="${x0 - 6}" y="${y0 - height + 10}" text-anchor="end">${yMax.toFixed(2)}</text>`,
    `<text x="${x0 + width}" y="${y0 + 15}" text-anchor="end">${values.length}</text>`,
    values.length === 1
      ? `<circle cx="${x(0)}" cy="${y(values[0])}" r="3" fill="steelblue"/>`
      : `<polyline points="${points}" fill="none" stroke="steelblue" stroke-width="1.5"/>`,
  ];
  if (reference !== undefined) {
    parts.push(`<line x1="${x0}" x2="${x0 + width}" y1="${y(reference)}" y2="${y(reference)}" stroke="gray" stroke-dasharray="4 3"/>`);
  }
  return `<g>\n${parts.join("\n")}\n</g>\n`;
}
