// Lowering one device's part of an SPMD program. Compute steps become fused WebAssembly kernels as on
// one device; collective steps become mesh collectives over dense blocks.
//
// Mesh collectives move equal blocks, and every device must issue the same counts. Shards of uneven
// chunks therefore travel in blocks padded to the largest shard of any device: data is copied into
// the front of each block, and only the valid part of a received block is read.

import { Node, type Aval } from "../../core/node.js";
import { sizeOf, stridesOf } from "../../core/shape.js";
import { InternalError } from "../../runtime/errors.js";
import { allocate, type Storage, type StorageDType } from "../../runtime/storage.js";
import { copyKernel } from "../../runtime/wasm/layout/copy.js";
import type { CollectiveSpec } from "../../runtime/mesh/builders.js";
import { chunkBounds, shardShape } from "../../sharding/chunks.js";
import type { LocalStep, SpmdProgram } from "../../sharding/program.js";
import { ProgramBuilder, type Value } from "../wasm/builder.js";
import { EpilogueFusion } from "../wasm/epilogue.js";
import { lowerNode } from "../wasm/lower.js";

type BufferValue = Value & { kind: "buffer" };

/** One device's lowered program: the builder's steps and buffers plus the role of its special buffers. */
export interface LoweredLocal {
  readonly builder: ProgramBuilder;
  /** Builder buffer of each program input, in input order. */
  readonly inputBuffers: readonly number[];
  /** Builder buffers whose contents are fixed before the first run. */
  readonly constants: ReadonlyMap<number, Storage>;
  /** Dense value and local aval of each program output, in output order. */
  readonly outputs: readonly { readonly value: BufferValue; readonly aval: Aval }[];
}

/** Local avals of every slot on every device, so collectives can size blocks for the largest shard. */
export function slotAvals(program: SpmdProgram): Aval[][] {
  return program.devices.map((local, device) => {
    const avals = new Array<Aval>(local.slotCount);
    local.inputSlots.forEach((slot, i) => {
      const { aval, spec } = program.inputs[i];
      avals[slot] = { shape: shardShape(aval.shape, spec, program.mesh, device), dtype: aval.dtype };
    });
    for (const step of local.steps) {
      if (step.kind === "allReduce") step.outputs.forEach((slot, j) => (avals[slot] = step.outs[j]));
      else avals[step.output] = step.out;
    }
    return avals;
  });
}

function countUses(steps: readonly LocalStep[], outputs: readonly number[], slotCount: number): number[] {
  const uses = new Array<number>(slotCount).fill(0);
  for (const step of steps) {
    switch (step.kind) {
      case "compute":
        step.inputs.forEach((slot) => uses[slot]++);
        break;
      case "allReduce":
        step.inputs.forEach((slot) => uses[slot]++);
        break;
      case "constant":
      case "fill":
        break;
      default:
        uses[step.input]++;
    }
  }
  outputs.forEach((slot) => uses[slot]++);
  return uses;
}

export class LocalLowering {
  readonly builder = new ProgramBuilder({ order: [], boundary: [] });
  readonly #program: SpmdProgram;
  readonly #device: number;
  readonly #avals: readonly Aval[][];
  readonly #nodes: Node[];
  readonly #slots = new Map<Node, number>();
  readonly #uses: number[];
  readonly #outputs: ReadonlySet<number>;
  readonly #constants = new Map<number, Storage>();

  constructor(program: SpmdProgram, device: number, avals: readonly Aval[][]) {
    this.#program = program;
    this.#device = device;
    this.#avals = avals;
    const local = program.devices[device];
    this.#nodes = new Array<Node>(local.slotCount);
    this.#uses = countUses(local.steps, local.outputSlots, local.slotCount);
    this.#outputs = new Set(local.outputSlots);
  }

  lower(): LoweredLocal {
    const local = this.#program.devices[this.#device];
    const inputBuffers = local.inputSlots.map((slot) => this.#placeInput(slot));
    this.#createNodes(local.steps);
    const computeNodes = local.steps.flatMap((step) => (step.kind === "compute" ? [this.#nodes[step.output]] : []));
    const isPrivate = (node: Node): boolean => this.#uses[this.#slotOf(node)] === 1 && !this.#outputs.has(this.#slotOf(node));
    const epilogues = new EpilogueFusion(computeNodes, isPrivate);
    const steps = { lowerPlain: (node: Node) => this.#finish(node, lowerNode(this.builder, node)), finish: (node: Node, value: Value) => this.#finish(node, value) };

    local.steps.forEach((step) => {
      if (step.kind !== "compute") return this.#lowerCommunication(step);
      const node = this.#nodes[step.output];
      if (epilogues.covers(node)) epilogues.lower(this.builder, node, steps);
      else steps.lowerPlain(node);
    });

    const outputs = local.outputSlots.map((slot) => ({ value: this.#dense(slot), aval: this.#avals[this.#device][slot] }));
    return { builder: this.builder, inputBuffers, constants: this.#constants, outputs };
  }

  #placeInput(slot: number): number {
    const aval = this.#avals[this.#device][slot];
    const buffer = this.builder.newBuffer(aval.dtype, sizeOf(aval.shape), -1);
    this.#setSlot(slot, Node.placeholder(aval), denseValue(buffer, aval));
    return buffer;
  }

  /** Creates a node per written slot: op nodes for compute steps (the fusion needs the graph), placeholders for the rest. */
  #createNodes(steps: readonly LocalStep[]): void {
    const add = (slot: number, node: Node): void => {
      this.#nodes[slot] = node;
      this.#slots.set(node, slot);
    };
    for (const step of steps) {
      if (step.kind === "compute") add(step.output, Node.op(step.prim, step.params as never, step.inputs.map((s) => this.#nodes[s]), step.out, false));
      else if (step.kind === "allReduce") step.outputs.forEach((slot, j) => add(slot, Node.placeholder(step.outs[j])));
      else add(step.output, Node.placeholder(step.out));
    }
  }

  #slotOf(node: Node): number {
    const slot = this.#slots.get(node);
    if (slot === undefined) throw new InternalError(`mesh lowering: node ${node.id} has no slot`);
    return slot;
  }

  #setSlot(slot: number, node: Node, value: Value): void {
    this.#nodes[slot] = node;
    this.#slots.set(node, slot);
    this.builder.setValue(node, value);
  }

  #finish(node: Node, value: Value): void {
    const slot = this.#slotOf(node);
    const shared = this.#uses[slot] > 1 || this.#outputs.has(slot);
    const mustMaterialize = value.kind === "expr" && (shared || this.builder.isLarge(value.expr));
    this.builder.setValue(node, mustMaterialize ? this.builder.materialize(value, node.shape, node.dtype) : value);
  }

  #value(slot: number): Value {
    return this.builder.valueOf(this.#nodes[slot]);
  }

  #dense(slot: number): BufferValue {
    const node = this.#nodes[slot];
    return this.builder.materialize(this.builder.valueOf(node), node.shape, node.dtype);
  }

  /** Local shape of `slot` on `device`. */
  #shapeOn(device: number, slot: number): readonly number[] {
    return this.#avals[device][slot].shape;
  }

  /** The elementwise maximum of `slot`'s local shape over all devices, with `dim` replaced by `size`. */
  #blockShape(slot: number, replace: readonly (readonly [dim: number, size: (device: number) => number])[] = []): number[] {
    const block = [...this.#shapeOn(this.#device, slot)];
    this.#avals.forEach((_, device) => {
      const shape = [...this.#shapeOn(device, slot)];
      for (const [dim, size] of replace) shape[dim] = size(device);
      shape.forEach((n, d) => (block[d] = Math.max(block[d], n)));
    });
    for (const [dim, size] of replace) block[dim] = Math.max(...this.#avals.map((_, device) => size(device)));
    return block;
  }

  #lowerCommunication(step: Exclude<LocalStep, { kind: "compute" }>): void {
    switch (step.kind) {
      case "constant":
        return this.#setConstant(step.output, step.value, step.out);
      case "fill":
        return this.#setConstant(step.output, allocate(step.out.dtype, sizeOf(step.out.shape)).fill(step.value), step.out);
      case "split":
        return this.#lowerSplit(step);
      case "allReduce":
        return this.#lowerAllReduce(step);
      case "allGather":
        return this.#lowerAllGather(step);
      case "allToAll":
        return this.#lowerAllToAll(step);
      case "reduceScatter":
        return this.#lowerReduceScatter(step);
      case "permute":
        return this.#lowerPermute(step);
      default:
        return step satisfies never;
    }
  }

  #setConstant(slot: number, data: Storage, aval: Aval): void {
    const buffer = this.builder.newBuffer(aval.dtype, sizeOf(aval.shape), -1);
    this.#constants.set(buffer, data);
    this.builder.setValue(this.#nodes[slot], denseValue(buffer, aval));
  }

  /** Keeps chunk `rank` of `dim` as a view of the input; nothing is copied. */
  #lowerSplit(step: Extract<LocalStep, { kind: "split" }>): void {
    const input = this.#value(step.input);
    const source = input.kind === "buffer" ? input : this.#dense(step.input);
    const [start] = chunkBounds(this.#shapeOn(this.#device, step.input)[step.dim], step.group.members.length, step.group.rank);
    const view = { strides: source.view.strides, offset: source.view.offset + start * source.view.strides[step.dim] };
    this.builder.setValue(this.#nodes[step.output], { ...source, view });
  }

  /** Copies each input into one padded bucket, all-reduces it once, and views each output in place. */
  #lowerAllReduce(step: Extract<LocalStep, { kind: "allReduce" }>): void {
    const byDType = new Map<StorageDType, number[]>();
    step.inputs.forEach((slot, j) => byDType.set(step.outs[j].dtype, [...(byDType.get(step.outs[j].dtype) ?? []), j]));
    for (const [dtype, members] of byDType) {
      const sizes = members.map((j) => Math.max(...this.#avals.map((_, device) => sizeOf(this.#shapeOn(device, step.inputs[j])))));
      const offsets = sizes.map((_, k) => sizes.slice(0, k).reduce((a, b) => a + b, 0));
      const count = sizes.reduce((a, b) => a + b, 0);
      const mine = sizeOf(this.#shapeOn(this.#device, step.inputs[members[0]]));
      const single = members.length === 1 && mine === count ? this.#dense(step.inputs[members[0]]) : undefined;
      const bucket = single ?? this.#pack(members.map((j, k) => ({ slot: step.inputs[j], offset: offsets[k] })), dtype, count);
      const output = this.builder.newBuffer(dtype, count);
      if (count > 0) this.#emitCollective({ kind: "allReduce", axes: step.axes, dtype, count, op: step.op }, bucket, output);
      members.forEach((j, k) => {
        const aval = step.outs[j];
        this.builder.setValue(this.#nodes[step.outputs[j]], { kind: "buffer", buffer: output, view: { strides: stridesOf(aval.shape), offset: offsets[k] }, dtype });
      });
    }
  }

  /** Gathers padded blocks of every group member, then copies each member's valid part into place. */
  #lowerAllGather(step: Extract<LocalStep, { kind: "allGather" }>): void {
    const g = step.group.members.length;
    const n = (device: number): number => this.#avals[device][step.output].shape[step.dim];
    const block = this.#blockShape(step.input, [[step.dim, (device) => chunkLength(n(device), g, 0)]]);
    const blockSize = sizeOf(block);
    const sent = this.#packBlocks(step.input, block, [{ offset: 0, start: 0, length: this.#shapeOn(this.#device, step.input)[step.dim] }], step.dim);
    const gathered = this.builder.newBuffer(step.out.dtype, g * blockSize);
    if (blockSize > 0) this.#emitCollective({ kind: "allGather", axes: [step.axis], dtype: step.out.dtype, count: blockSize }, sent, gathered);

    const pieces = step.group.members.map((_, r) => {
      const [start, stop] = chunkBounds(n(this.#device), g, r);
      return { block: r, start, length: stop - start };
    });
    this.#unpackBlocks(step.output, step.out, gathered, block, pieces, step.dim);
  }

  /** Sends chunk r of the split dimension to rank r in padded blocks and concatenates what arrives. */
  #lowerAllToAll(step: Extract<LocalStep, { kind: "allToAll" }>): void {
    const g = step.group.members.length;
    const whole = (device: number): number => this.#shapeOn(device, step.input)[step.splitDim];
    const gathered = (device: number): number => this.#avals[device][step.output].shape[step.gatherDim];
    const block = this.#blockShape(step.input, [
      [step.splitDim, (device) => chunkLength(whole(device), g, 0)],
      [step.gatherDim, (device) => chunkLength(gathered(device), g, 0)],
    ]);
    const blockSize = sizeOf(block);
    const chunks = step.group.members.map((_, r) => {
      const [start, stop] = chunkBounds(whole(this.#device), g, r);
      return { offset: r * blockSize, start, length: stop - start };
    });
    const sent = this.#packBlocks(step.input, block, chunks, step.splitDim, g);
    const received = this.builder.newBuffer(step.out.dtype, g * blockSize);
    if (blockSize > 0) this.#emitCollective({ kind: "allToAll", axes: [step.axis], dtype: step.out.dtype, count: blockSize }, sent, received);

    const pieces = step.group.members.map((_, r) => {
      const [start, stop] = chunkBounds(gathered(this.#device), g, r);
      return { block: r, start, length: stop - start };
    });
    this.#unpackBlocks(step.output, step.out, received, block, pieces, step.gatherDim);
  }

  /** Reduces padded blocks, block r holding chunk r of `dim`, and keeps the valid part of this rank's block. */
  #lowerReduceScatter(step: Extract<LocalStep, { kind: "reduceScatter" }>): void {
    const g = step.group.members.length;
    const whole = (device: number): number => this.#shapeOn(device, step.input)[step.dim];
    const block = this.#blockShape(step.input, [[step.dim, (device) => chunkLength(whole(device), g, 0)]]);
    const blockSize = sizeOf(block);
    const chunks = step.group.members.map((_, r) => {
      const [start, stop] = chunkBounds(whole(this.#device), g, r);
      return { offset: r * blockSize, start, length: stop - start };
    });
    const sent = g === 1 ? this.#packBlocks(step.input, block, chunks, step.dim) : this.#packBlocks(step.input, block, chunks, step.dim, g);
    const output = this.builder.newBuffer(step.out.dtype, blockSize);
    if (blockSize > 0) this.#emitCollective({ kind: "reduceScatter", axes: [step.axis], dtype: step.out.dtype, count: blockSize, op: step.op }, sent, output);
    this.builder.setValue(this.#nodes[step.output], { kind: "buffer", buffer: output, view: { strides: stridesOf(block), offset: 0 }, dtype: step.out.dtype });
  }

  /** Sends the whole local value to the paired rank; every device sends a block of the largest size. */
  #lowerPermute(step: Extract<LocalStep, { kind: "permute" }>): void {
    const count = Math.max(...this.#avals.map((_, device) => sizeOf(this.#shapeOn(device, step.input))));
    const mine = sizeOf(this.#shapeOn(this.#device, step.input));
    const sent = mine === count ? this.#dense(step.input) : this.#pack([{ slot: step.input, offset: 0 }], step.out.dtype, count);
    const output = this.builder.newBuffer(step.out.dtype, count);
    if (count > 0) this.#emitCollective({ kind: "permute", axes: [step.axis], dtype: step.out.dtype, count, pairs: step.pairs }, sent, output);
    this.builder.setValue(this.#nodes[step.output], denseValue(output, step.out));
  }

  /** Copies several dense values into one new buffer of `count` elements at the given element offsets. */
  #pack(parts: readonly { slot: number; offset: number }[], dtype: StorageDType, count: number): BufferValue {
    const values = parts.map(({ slot }) => this.#dense(slot));
    const bucket = this.builder.newBuffer(dtype, count);
    parts.forEach(({ slot, offset }, k) => {
      const shape = this.#shapeOn(this.#device, slot);
      this.#copy(values[k], shape, bucket, offset, stridesOf(shape), dtype);
    });
    return denseValue(bucket, { shape: [count], dtype });
  }

  /**
   * Writes `chunks` of `slot` (ranges of `dim`) into consecutive blocks of `block` shape; returns the
   * input itself when it already is one dense, full block.
   */
  #packBlocks(slot: number, block: readonly number[], chunks: readonly { offset: number; start: number; length: number }[], dim: number, blocks = 1): BufferValue {
    const shape = this.#shapeOn(this.#device, slot);
    const dtype = this.#avals[this.#device][slot].dtype;
    const input = this.#dense(slot);
    if (blocks === 1 && shape.every((n, d) => n === block[d])) return input;
    // Equal chunks of an outermost dimension already lie one block after another.
    const outermost = shape.slice(0, dim).every((n) => n === 1);
    if (outermost && shape.every((n, d) => (d === dim ? n === blocks * block[d] : n === block[d]))) return input;
    const buffer = this.builder.newBuffer(dtype, blocks * sizeOf(block));
    for (const { offset, start, length } of chunks) {
      const piece = shape.map((n, d) => (d === dim ? length : n));
      const source = { ...input, view: { strides: input.view.strides, offset: input.view.offset + start * input.view.strides[dim] } };
      this.#copy(source, piece, buffer, offset, stridesOf(block), dtype);
    }
    return denseValue(buffer, { shape: [blocks * sizeOf(block)], dtype });
  }

  /** Copies the valid `length` rows along `dim` of each received block into the output at `start`. */
  #unpackBlocks(slot: number, out: Aval, received: number, block: readonly number[], pieces: readonly { block: number; start: number; length: number }[], dim: number): void {
    const blockStrides = stridesOf(block);
    const blockSize = sizeOf(block);
    const outStrides = stridesOf(out.shape);
    const direct = pieces.every((p) => p.length === block[dim]) && out.shape.every((n, d) => d === dim || n === block[d]) && out.shape.slice(0, dim).every((n) => n === 1);
    if (direct) {
      this.builder.setValue(this.#nodes[slot], denseValue(received, out));
      return;
    }
    const output = this.builder.newBuffer(out.dtype, sizeOf(out.shape));
    for (const piece of pieces) {
      const shape = out.shape.map((n, d) => (d === dim ? piece.length : n));
      const source: BufferValue = { kind: "buffer", buffer: received, view: { strides: blockStrides, offset: piece.block * blockSize }, dtype: out.dtype };
      this.#copy(source, shape, output, piece.start * outStrides[dim], outStrides, out.dtype);
    }
    this.builder.setValue(this.#nodes[slot], denseValue(output, out));
  }

  /** One strided copy of `source` (viewed with `shape`) into `target` at `targetOffset` elements with `targetStrides`. */
  #copy(source: BufferValue, shape: readonly number[], target: number, targetOffset: number, targetStrides: readonly number[], dtype: StorageDType): void {
    if (sizeOf(shape) === 0) return;
    const scalar = shape.length === 0;
    const kernel = copyKernel({ shape: scalar ? [1] : [...shape], dtype, srcStrides: scalar ? [1] : [...source.view.strides], dstStrides: scalar ? [1] : [...targetStrides] });
    const args = [this.builder.ref(source.buffer, source.view.offset, dtype), this.builder.ref(target, targetOffset, dtype)];
    this.builder.steps.push({ kind: "kernel", label: "collective copy", kernel: kernel.kernel, args });
  }

  #emitCollective(spec: CollectiveSpec, input: BufferValue, output: number): void {
    const inputRef = this.builder.ref(input.buffer, input.view.offset, spec.dtype);
    const outputRef = this.builder.ref(output, 0, spec.dtype);
    this.builder.steps.push({ kind: "collective", spec, input: inputRef, output: outputRef });
  }
}

function chunkLength(n: number, parts: number, index: number): number {
  const [start, stop] = chunkBounds(n, parts, index);
  return stop - start;
}

function denseValue(buffer: number, aval: Aval): BufferValue {
  return { kind: "buffer", buffer, view: { strides: stridesOf(aval.shape), offset: 0 }, dtype: aval.dtype };
}
