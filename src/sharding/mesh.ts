// DeviceMesh: the public handle on a mesh of worker-thread devices with named axes.

import { availableParallelism } from "node:os";
import type { DeviceMemory } from "../runtime/device/memory.js";
import { MeshRuntime, type MeshRuntimeOptions, type ProgramHandle } from "../runtime/mesh/runtime.js";
import type { Program } from "../runtime/mesh/program.js";

export type MeshOptions = MeshRuntimeOptions;

/**
 * A mesh of devices, each a worker thread with its own shared memory, numbered row-major over `shape`.
 * `new DeviceMesh()` has one axis "data" with os.availableParallelism() devices. Call dispose() (or use
 * `await using`) to stop its workers.
 */
let nextMeshId = 1;

export class DeviceMesh {
  readonly runtime: MeshRuntime;
  /** Numbers meshes in creation order, so errors tell two meshes of the same shape apart. */
  readonly id = nextMeshId++;

  /** Creates a mesh and waits until every device's worker runs, so compiled code can use it at once. */
  static async create(shape?: readonly number[], axisNames?: readonly string[], options: MeshOptions = {}): Promise<DeviceMesh> {
    const mesh = new DeviceMesh(shape, axisNames, options);
    await mesh.ready();
    return mesh;
  }

  constructor(shape?: readonly number[], axisNames?: readonly string[], options: MeshOptions = {}) {
    const meshShape = shape ?? [availableParallelism()];
    this.runtime = new MeshRuntime(meshShape, axisNames ?? (shape === undefined ? ["data"] : defaultAxisNames(meshShape.length)), options);
  }

  get shape(): readonly number[] {
    return this.runtime.topology.shape;
  }

  get axisNames(): readonly string[] {
    return this.runtime.topology.axisNames;
  }

  /** Number of devices. */
  get size(): number {
    return this.runtime.topology.deviceCount;
  }

  /** Memory of `device`; results are read from it directly. */
  memory(device: number): DeviceMemory {
    return this.runtime.memories[device];
  }

  coordinates(device: number): number[] {
    return this.runtime.topology.coordinates(device);
  }

  /** Device groups along `axes`, each in rank order; a collective over `axes` runs within each group. */
  groups(axes: string | readonly string[]): number[][] {
    return this.runtime.topology.groups(typeof axes === "string" ? [axes] : axes);
  }

  load(program: Program): ProgramHandle {
    return this.runtime.load(program);
  }

  /** Runs a loaded program with each device's input offsets; resolves to each device's fresh output offsets. */
  run(program: ProgramHandle, inputs: readonly (readonly number[])[]): Promise<number[][]> {
    return this.runtime.run(program, inputs);
  }

  /** Runs a loaded program and blocks until it finished; the mesh must be ready (see ready()). */
  runSync(program: ProgramHandle, inputs: readonly (readonly number[])[]): number[][] {
    return this.runtime.runSync(program, inputs);
  }

  /** Resolves once every device's worker runs; needed once before synchronous runs, and after a failed one. */
  ready(): Promise<void> {
    return this.runtime.ready();
  }

  toString(): string {
    return `DeviceMesh #${this.id} ([${this.shape.join(", ")}], axes [${this.axisNames.join(", ")}])`;
  }

  dispose(): Promise<void> {
    return this.runtime.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.runtime.dispose();
  }
}

function defaultAxisNames(rank: number): string[] {
  return Array.from({ length: rank }, (_, axis) => (axis === 0 ? "data" : `axis${axis}`));
}
