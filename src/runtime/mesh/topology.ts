// Mesh topology: a shape with named axes, row-major device numbering and the device groups along axes.

import { ValueError } from "../errors.js";

/** One device's group along some axes: the member devices in rank order and this device's rank. */
export interface DeviceGroup {
  readonly members: readonly number[];
  readonly rank: number;
}

export class MeshTopology {
  readonly shape: readonly number[];
  readonly axisNames: readonly string[];
  readonly deviceCount: number;
  /** Row-major strides in devices, one per axis. */
  readonly #strides: readonly number[];

  constructor(shape: readonly number[], axisNames: readonly string[]) {
    validateShape(shape, axisNames);
    this.shape = [...shape];
    this.axisNames = [...axisNames];
    const strides: number[] = new Array<number>(shape.length);
    let stride = 1;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      strides[axis] = stride;
      stride *= shape[axis];
    }
    this.#strides = strides;
    this.deviceCount = stride;
  }

  /** Position of a named axis; raises a ValueError that lists the mesh's axes when it is unknown. */
  axisIndex(name: string): number {
    const index = this.axisNames.indexOf(name);
    if (index < 0) {
      throw new ValueError(`mesh axis "${name}" not found; this mesh has axes [${this.axisNames.join(", ")}]`);
    }
    return index;
  }

  /** Coordinates of `device` along every axis. */
  coordinates(device: number): number[] {
    this.#checkDevice(device);
    return this.shape.map((size, axis) => Math.floor(device / this.#strides[axis]) % size);
  }

  /** Device number at `coordinates` (row-major). */
  device(coordinates: readonly number[]): number {
    return coordinates.reduce((sum, c, axis) => sum + c * this.#strides[axis], 0);
  }

  /**
   * Group of `device` along `axes`: the devices that share its coordinates on every other axis. Ranks are
   * row-major over `axes` in the order given, so ["data", "model"] and ["model", "data"] rank differently.
   */
  groupOf(device: number, axes: readonly string[]): DeviceGroup {
    const axisIndices = this.#checkAxes(axes);
    const base = this.coordinates(device);
    const sizes = axisIndices.map((axis) => this.shape[axis]);
    const groupSize = sizes.reduce((a, b) => a * b, 1);
    const members: number[] = [];
    let rank = -1;
    for (let r = 0; r < groupSize; r++) {
      const coordinates = [...base];
      let rest = r;
      for (let k = axisIndices.length - 1; k >= 0; k--) {
        coordinates[axisIndices[k]] = rest % sizes[k];
        rest = Math.floor(rest / sizes[k]);
      }
      const member = this.device(coordinates);
      if (member === device) rank = r;
      members.push(member);
    }
    return { members, rank };
  }

  /** Lists every group along `axes`, each in rank order, ordered by their lowest device. */
  groups(axes: readonly string[]): number[][] {
    const seen = new Set<number>();
    const result: number[][] = [];
    for (let device = 0; device < this.deviceCount; device++) {
      if (seen.has(device)) continue;
      const { members } = this.groupOf(device, axes);
      for (const member of members) seen.add(member);
      result.push([...members]);
    }
    return result;
  }

  #checkAxes(axes: readonly string[]): number[] {
    if (axes.length === 0) throw new ValueError(`a collective needs at least one mesh axis; this mesh has [${this.axisNames.join(", ")}]`);
    const indices = axes.map((name) => this.axisIndex(name));
    if (new Set(indices).size !== indices.length) throw new ValueError(`mesh axes [${axes.join(", ")}] repeat an axis; name each axis once`);
    return indices;
  }

  #checkDevice(device: number): void {
    if (!Number.isInteger(device) || device < 0 || device >= this.deviceCount) {
      throw new ValueError(`device ${device} is not in this mesh of ${this.deviceCount} devices (valid: 0 to ${this.deviceCount - 1})`);
    }
  }
}

function validateShape(shape: readonly number[], axisNames: readonly string[]): void {
  if (shape.length === 0) throw new ValueError("a mesh shape needs at least one axis, such as [2]");
  if (shape.some((size) => !Number.isInteger(size) || size < 1)) {
    throw new ValueError(`mesh shape [${shape.join(", ")}] must contain positive integers`);
  }
  if (axisNames.length !== shape.length) {
    throw new ValueError(`mesh shape [${shape.join(", ")}] has ${shape.length} axes but ${axisNames.length} axis names [${axisNames.join(", ")}] were given`);
  }
  if (new Set(axisNames).size !== axisNames.length) throw new ValueError(`mesh axis names [${axisNames.join(", ")}] must be unique`);
}
