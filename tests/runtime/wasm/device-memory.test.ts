import { describe, expect, it } from "vitest";
import { RangeAllocator } from "../../../src/runtime/device/allocator.js";
import { DeviceMemory } from "../../../src/runtime/device/memory.js";
import { DeviceMemoryError } from "../../../src/runtime/errors.js";
import { rng } from "./helpers.js";

describe("device memory", () => {
  it("allocations are 16-byte aligned and disjoint", () => {
    const memory = new DeviceMemory({ device: "test:0", initialBytes: 65536, capacityBytes: 1 << 24 });
    const random = rng(1);
    const live: [number, number][] = [];
    for (let i = 0; i < 200; i++) {
      const bytes = 1 + Math.floor(random() * 5000);
      const offset = memory.alloc(bytes);
      expect(offset % 16).toBe(0);
      expect(offset).toBeGreaterThan(0);
      for (const [o, b] of live) expect(offset + bytes <= o || o + b <= offset).toBe(true);
      live.push([offset, bytes]);
      if (random() < 0.4) {
        const [o] = live.splice(Math.floor(random() * live.length), 1)[0];
        memory.free(o);
      }
    }
    expect(memory.liveAllocations).toBe(live.length);
  });

  it("bytes in use return to zero and freed ranges coalesce", () => {
    const memory = new DeviceMemory({ initialBytes: 65536, capacityBytes: 1 << 22 });
    const committed = memory.bytesCommitted;
    for (let step = 0; step < 50; step++) {
      const offsets = [100, 3000, 17, 40000, 5].map((b) => memory.alloc(b));
      offsets.reverse().forEach((o) => memory.free(o));
      expect(memory.bytesInUse).toBe(0);
    }
    // After coalescing, one request as large as the whole initial memory (minus the null guard) fits without growth.
    const big = memory.alloc(65536 - 16);
    expect(memory.bytesCommitted).toBe(committed);
    memory.free(big);
  });

  it("grows on demand up to the capacity", () => {
    const memory = new DeviceMemory({ initialBytes: 65536, capacityBytes: 1 << 22 });
    const offset = memory.alloc(3 << 20);
    expect(memory.bytesCommitted).toBeGreaterThanOrEqual((3 << 20) + 16);
    const view = memory.view("float32", offset, 4);
    view.set([1, 2, 3, 4]);
    expect(Array.from(memory.read("float32", offset, 4))).toEqual([1, 2, 3, 4]);
    expect(memory.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it("out of memory raises DeviceMemoryError with the numbers", () => {
    const memory = new DeviceMemory({ device: "cpu:3", initialBytes: 65536, capacityBytes: 1 << 20 });
    memory.alloc(600_000);
    expect(() => memory.alloc(600_000)).toThrow(DeviceMemoryError);
    expect(() => memory.alloc(600_000)).toThrow(/cpu:3.*600000 bytes.*capacity is 1048576 bytes/);
  });

  it("double free and bad sizes are rejected", () => {
    const memory = new DeviceMemory({ initialBytes: 65536 });
    const offset = memory.alloc(64);
    memory.free(offset);
    expect(() => memory.free(offset)).toThrow(/no live allocation starts at byte/);
    expect(() => memory.alloc(-1)).toThrow(DeviceMemoryError);
    expect(() => memory.alloc(1.5)).toThrow(DeviceMemoryError);
  });

  it("default capacity is the 4 GiB wasm32 limit", () => {
    const memory = new DeviceMemory();
    expect(memory.capacityBytes).toBe(4 * 1024 ** 3);
  });

  it("range allocator merges neighbours on release", () => {
    const allocator = new RangeAllocator(0, 64);
    const [a, b, c, d] = [16, 16, 16, 16].map(() => allocator.allocate(16));
    expect(allocator.allocate(1)).toBeNull();
    allocator.release(b!);
    allocator.release(d!);
    allocator.release(c!);
    expect(allocator.largestFree).toBe(48);
    allocator.release(a!);
    expect(allocator.largestFree).toBe(64);
  });
});
