// Readable printing of tensor values, in the spirit of PyTorch's `tensor([...], dtype=...)`.

import type { Storage } from "../runtime/storage.js";
import type { DType } from "./dtype.js";
import type { Shape } from "./shape.js";

const edgeItems = 3;
const summarizeAbove = 1000;

function formatNumber(value: number, dtype: DType): string {
  if (dtype === "bool") return value !== 0 ? "true" : "false";
  if (dtype === "int32") return String(value);
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-4)) return value.toExponential(4);
  return value.toFixed(4);
}

function formatBlock(data: Storage, shape: Shape, dtype: DType, offset: number, depth: number, summarize: boolean): string {
  if (shape.length === 0) return formatNumber(data[offset], dtype);
  const [n, ...rest] = shape;
  const inner = rest.reduce((a, b) => a * b, 1);
  const indices = summarize && n > 2 * edgeItems
    ? [...Array.from({ length: edgeItems }, (_, i) => i), -1, ...Array.from({ length: edgeItems }, (_, i) => n - edgeItems + i)]
    : Array.from({ length: n }, (_, i) => i);
  const parts = indices.map((i) => (i < 0 ? "..." : formatBlock(data, rest, dtype, offset + i * inner, depth + 1, summarize)));
  const separator = rest.length === 0 ? ", " : `,\n${" ".repeat(depth + 8)}`;
  return `[${parts.join(separator)}]`;
}

export function formatTensor(data: Storage, shape: Shape, dtype: DType): string {
  const summarize = data.length > summarizeAbove;
  return `tensor(${formatBlock(data, shape, dtype, 0, 0, summarize)}, dtype=${dtype})`;
}

/** Converts flat data to nested JavaScript arrays; bool elements become booleans. */
export function toNested(data: Storage, shape: Shape, dtype: DType, offset = 0): unknown {
  const convert = (v: number): number | boolean => (dtype === "bool" ? v !== 0 : v);
  if (shape.length === 0) return convert(data[offset]);
  const [n, ...rest] = shape;
  const inner = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => toNested(data, rest, dtype, offset + i * inner));
}
