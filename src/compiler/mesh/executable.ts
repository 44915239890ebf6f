// A partitioned program loaded on a DeviceMesh: it cuts global inputs into shards, runs every device's
// program on its worker, and joins the output shards into global values.

import type { Aval } from "../../core/node.js";
import { sizeOf } from "../../core/shape.js";
import { debugLog } from "../../runtime/debug.js";
import { InternalError } from "../../runtime/errors.js";
import type { ProgramHandle } from "../../runtime/mesh/runtime.js";
import { allocate, type Storage } from "../../runtime/storage.js";
import type { CompiledKernel } from "../../runtime/wasm/kernel.js";
import { extractShard, insertShard, shardBounds } from "../../sharding/chunks.js";
import type { DeviceMesh } from "../../sharding/mesh.js";
import type { SpmdProgram } from "../../sharding/program.js";
import { shardValue } from "../../sharding/simulate.js";
import type { ShardingSpec } from "../../sharding/spec.js";
import { toDeviceProgram, type DevicePart } from "./device-program.js";
import { LocalLowering, slotAvals } from "./lower-local.js";

export interface MeshExecutableOptions {
  /** Read every copy of each output and raise if two devices that hold the same shard differ in any bit. */
  readonly checkReplicas?: boolean;
}

export class MeshExecutable {
  readonly mesh: DeviceMesh;
  readonly program: SpmdProgram;
  readonly #handle: ProgramHandle;
  readonly #parts: readonly DevicePart[];
  readonly #checkReplicas: boolean;

  constructor(mesh: DeviceMesh, program: SpmdProgram, name: string, options: MeshExecutableOptions = {}) {
    this.mesh = mesh;
    this.program = program;
    this.#checkReplicas = options.checkReplicas ?? false;
    const avals = slotAvals(program);
    this.#parts = program.devices.map((_, device) => {
      const lowered = new LocalLowering(program, device, avals).lower();
      return toDeviceProgram(lowered, mesh.memory(device), `program "${name}" device ${device}`);
    });
    const kernels = new Map<string, CompiledKernel>();
    for (const part of this.#parts) for (const kernel of part.kernels) kernels.set(kernel.key, kernel);
    this.#handle = mesh.load({ name, devices: this.#parts.map((part) => part.program), kernels: [...kernels.values()] });
    debugLog(2, () => `mesh program "${name}": ${this.#parts[0].program.steps.length} steps on device 0, arena ${this.#parts[0].program.temps[0] ?? 0} bytes`);
  }

  /** Runs on global input values (one per program input) and returns the global output values. */
  run(inputs: readonly Storage[]): Storage[] {
    const { mesh, program } = this;
    const blocks = this.#parts.map((part, device) => this.#writeInputs(part, device, inputs));
    try {
      const outputs = mesh.runSync(this.#handle, blocks.map((block) => [block]));
      try {
        return program.outputs.map(({ aval, spec }, j) => this.#assemble(outputs, j, aval, spec));
      } finally {
        outputs.forEach((list, device) => list.forEach((offset) => mesh.memory(device).free(offset)));
      }
    } finally {
      blocks.forEach((block, device) => mesh.memory(device).free(block));
    }
  }

  /** Allocates the device's input block and writes its shard of every input into it. */
  #writeInputs(part: DevicePart, device: number, inputs: readonly Storage[]): number {
    const memory = this.mesh.memory(device);
    const block = memory.alloc(part.inputs.bytes);
    this.program.inputs.forEach(({ aval, spec }, i) => {
      const shard = localShard(inputs[i], aval, spec, this.program, device);
      if (shard.length > 0) memory.write(block + part.inputs.offsets[i], shard);
    });
    return block;
  }

  /** Joins output `j`: one device per distinct shard is read; replicated copies are identical by construction. */
  #assemble(outputs: readonly (readonly number[])[], j: number, aval: Aval, spec: ShardingSpec): Storage {
    const { mesh, program } = this;
    const read = (device: number): Storage => {
      const part = this.#parts[device];
      return mesh.memory(device).read(aval.dtype, outputs[device][0] + part.outputs.offsets[j], part.outputLengths[j]);
    };
    if (spec.isReplicated && !this.#checkReplicas) return read(0);
    const global = allocate(aval.dtype, sizeOf(aval.shape));
    const seen = new Map<string, { device: number; data: Storage }>();
    program.devices.forEach((_, device) => {
      const bounds = shardBounds(aval.shape, spec, program.mesh, device);
      const key = JSON.stringify(bounds);
      const first = seen.get(key);
      if (first === undefined) {
        const data = read(device);
        seen.set(key, { device, data });
        insertShard(global, aval.shape, bounds, data);
      } else if (this.#checkReplicas) {
        checkSameBits(read(device), first.data, `output ${j} on device ${device} and device ${first.device}`);
      }
    });
    return global;
  }

  /** Frees the constants this program placed in device memory and unloads it from the mesh. */
  dispose(): void {
    this.mesh.runtime.unload(this.#handle);
    this.#parts.forEach((part, device) => part.constants.forEach((offset) => this.mesh.memory(device).free(offset)));
  }
}

function checkSameBits(a: Storage, b: Storage, label: string): void {
  const bytesA = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const bytesB = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (bytesA.length !== bytesB.length || bytesA.some((x, i) => x !== bytesB[i])) throw new InternalError(`${label} hold the same shard but differ`);
}

/** Device `device`'s shard of a global input, cut without a copy when it is contiguous. */
function localShard(global: Storage, aval: Aval, spec: ShardingSpec, program: SpmdProgram, device: number): Storage {
  if (Object.keys(spec.partial).length > 0) return shardValue(global, aval, spec, program.mesh, device);
  if (spec.isReplicated) return global;
  const bounds = shardBounds(aval.shape, spec, program.mesh, device);
  const firstSplit = bounds.findIndex(([start, stop], d) => start !== 0 || stop !== aval.shape[d]);
  if (firstSplit < 0) return global;
  const leadingOnes = aval.shape.slice(0, firstSplit).every((n) => n === 1);
  const restWhole = bounds.slice(firstSplit + 1).every(([start, stop], d) => start === 0 && stop === aval.shape[firstSplit + 1 + d]);
  if (leadingOnes && restWhole) {
    const inner = sizeOf(aval.shape.slice(firstSplit + 1));
    return global.subarray(bounds[firstSplit][0] * inner, bounds[firstSplit][1] * inner) as Storage;
  }
  return extractShard(global, aval.shape, bounds, (n) => allocate(aval.dtype, n));
}
