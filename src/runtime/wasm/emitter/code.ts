// Function body builder: appends typed instructions, each kept with its text form for the NABLA_DEBUG=3 printer.

import { InternalError } from "../../errors.js";
import { signedLeb, unsignedLeb } from "./leb128.js";
import {
  memoryOps, miscOps, plainOps, simdLaneMemoryOps, simdLaneOps, simdMemoryOps, simdOps, valTypeCode,
  type MemoryOp, type MiscOp, type PlainOp, type SimdLaneMemoryOp, type SimdLaneOp, type SimdMemoryOp,
  type SimdOp, type ValType,
} from "./opcodes.js";

/** A parameter or local variable of the function being built. */
export interface Local {
  readonly index: number;
  readonly type: ValType;
  readonly name: string;
}

/** One encoded instruction with its text form; `nesting` is +1 for block/loop/if, -1 for end, 0 otherwise. */
export interface Instruction {
  readonly text: string;
  readonly bytes: readonly number[];
  readonly nesting: -1 | 0 | 1;
}

/** A block, loop or if label; branches name it, and the encoder turns it into a relative depth. */
export interface Label {
  readonly name: string;
  readonly depth: number;
}

const simdPrefix = 0xfd;
const miscPrefix = 0xfc;

export class CodeBuilder {
  readonly params: Local[] = [];
  readonly locals: Local[] = [];
  readonly body: Instruction[] = [];
  /** Instructions that run once before the body: they initialise the hoisted v128 constants. */
  readonly prologue: Instruction[] = [];
  readonly #constants = new Map<string, Local>();
  #labels: Label[] = [];
  #labelCount = 0;

  constructor(params: readonly (readonly [string, ValType])[], readonly results: readonly ValType[] = []) {
    for (const [name, type] of params) this.params.push({ index: this.params.length, type, name });
  }

  param(index: number): Local {
    return this.params[index];
  }

  /** Declares a new local; names are for the text printer only and need not be unique. */
  local(type: ValType, name: string = type): Local {
    const local = { index: this.params.length + this.locals.length, type, name: `${name}${this.locals.length}` };
    this.locals.push(local);
    return local;
  }

  #emit(text: string, bytes: readonly number[], nesting: -1 | 0 | 1 = 0): this {
    this.body.push({ text, bytes, nesting });
    return this;
  }

  op(name: PlainOp): this {
    return this.#emit(name, [plainOps[name]]);
  }

  simd(name: SimdOp): this {
    return this.#emit(name, [simdPrefix, ...unsignedLeb(simdOps[name])]);
  }

  misc(name: MiscOp): this {
    const extra = name === "memory.copy" ? [0, 0] : name === "memory.fill" ? [0] : [];
    return this.#emit(name, [miscPrefix, ...unsignedLeb(miscOps[name]), ...extra]);
  }

  get(local: Local): this {
    return this.#emit(`local.get $${local.name}`, [0x20, ...unsignedLeb(local.index)]);
  }

  set(local: Local): this {
    return this.#emit(`local.set $${local.name}`, [0x21, ...unsignedLeb(local.index)]);
  }

  tee(local: Local): this {
    return this.#emit(`local.tee $${local.name}`, [0x22, ...unsignedLeb(local.index)]);
  }

  i32(value: number): this {
    return this.#emit(`i32.const ${value | 0}`, [0x41, ...signedLeb(value | 0)]);
  }

  f32(value: number): this {
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    return this.#emit(`f32.const ${Math.fround(value)}`, [0x43, ...bytes]);
  }

  f64(value: number): this {
    const bytes = new Uint8Array(new Float64Array([value]).buffer);
    return this.#emit(`f64.const ${value}`, [0x44, ...bytes]);
  }

  /**
   * Pushes a v128 constant given as 16 raw bytes. Each distinct constant is set once in the prologue and
   * read from a local afterwards: V8 (Node 20) materialises an arbitrary v128.const with several
   * instructions at every use, while a local stays in a register or one stack load away.
   */
  v128(bytes: readonly number[]): this {
    if (bytes.length !== 16) throw new InternalError(`v128.const needs 16 bytes, got ${bytes.length}`);
    const key = bytes.join(" ");
    let local = this.#constants.get(key);
    if (local === undefined) {
      local = this.local("v128", "const");
      this.#constants.set(key, local);
      this.prologue.push({ text: `v128.const i8x16 ${key}`, bytes: [simdPrefix, 0x0c, ...bytes], nesting: 0 });
      this.prologue.push({ text: `local.set $${local.name}`, bytes: [0x21, ...unsignedLeb(local.index)], nesting: 0 });
    }
    return this.get(local);
  }

  /** Scalar load or store; `offset` is a constant byte offset added to the address on the stack. */
  mem(name: MemoryOp, offset = 0): this {
    const [code, align] = memoryOps[name];
    return this.#emit(`${name} offset=${offset}`, [code, align, ...unsignedLeb(offset)]);
  }

  /** SIMD load or store; alignment is declared as 1 byte because buffers need only element alignment. */
  vmem(name: SimdMemoryOp, offset = 0): this {
    const [code] = simdMemoryOps[name];
    return this.#emit(`${name} offset=${offset}`, [simdPrefix, ...unsignedLeb(code), 0, ...unsignedLeb(offset)]);
  }

  vmemLane(name: SimdLaneMemoryOp, lane: number, offset = 0): this {
    const [code, align] = simdLaneMemoryOps[name];
    return this.#emit(`${name} offset=${offset} ${lane}`, [simdPrefix, ...unsignedLeb(code), align, ...unsignedLeb(offset), lane]);
  }

  lane(name: SimdLaneOp, lane: number): this {
    return this.#emit(`${name} ${lane}`, [simdPrefix, ...unsignedLeb(simdLaneOps[name]), lane]);
  }

  /** i8x16.shuffle with 16 byte-lane indices into the concatenation of the two operands. */
  shuffle(lanes: readonly number[]): this {
    return this.#emit(`i8x16.shuffle ${lanes.join(" ")}`, [simdPrefix, 0x0d, ...lanes]);
  }

  block(): Label {
    return this.#open("block", 0x02);
  }

  loop(): Label {
    return this.#open("loop", 0x03);
  }

  /** Opens an `if` without results; the condition is on the stack. */
  if(): Label {
    return this.#open("if", 0x04);
  }

  else(): this {
    return this.#emit("else", [0x05]);
  }

  end(): this {
    const label = this.#labels.pop();
    if (label === undefined) throw new InternalError("end without an open block");
    return this.#emit("end", [0x0b], -1);
  }

  br(label: Label): this {
    return this.#emit(`br $${label.name}`, [0x0c, ...unsignedLeb(this.#relativeDepth(label))]);
  }

  brIf(label: Label): this {
    return this.#emit(`br_if $${label.name}`, [0x0d, ...unsignedLeb(this.#relativeDepth(label))]);
  }

  call(index: number, name: string): this {
    return this.#emit(`call $${name}`, [0x10, ...unsignedLeb(index)]);
  }

  #open(kind: string, code: number): Label {
    const label = { name: `${kind}${this.#labelCount++}`, depth: this.#labels.length };
    this.#labels.push(label);
    this.#emit(`${kind} $${label.name}`, [code, 0x40], 1);
    return label;
  }

  #relativeDepth(label: Label): number {
    if (this.#labels[label.depth] !== label) throw new InternalError(`branch to $${label.name}, which is not open`);
    return this.#labels.length - 1 - label.depth;
  }

  /** Encodes the body: local declarations (one group per local), the instructions and the final `end`. */
  encode(): number[] {
    if (this.#labels.length !== 0) throw new InternalError(`${this.#labels.length} blocks left open`);
    const bytes = [...unsignedLeb(this.locals.length)];
    for (const local of this.locals) bytes.push(1, valTypeCode[local.type]);
    for (const instruction of this.prologue) bytes.push(...instruction.bytes);
    for (const instruction of this.body) bytes.push(...instruction.bytes);
    bytes.push(0x0b);
    return bytes;
  }
}
