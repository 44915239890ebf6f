// The memory plan of one program: every buffer gets an offset in a single arena, and buffers whose
// lifetimes do not overlap share space. Decided once per program, on the main thread.

import { allocationAlignment } from "../../runtime/device/allocator.js";

export interface PlannedBuffer {
  /** Bytes, before rounding up to the allocation alignment. */
  readonly bytes: number;
  /** Index of the step that writes the buffer first (-1 for program inputs). */
  readonly firstStep: number;
  /** Index of the step that reads it last; Infinity keeps it to the end (program outputs). */
  lastStep: number;
}

function aligned(bytes: number): number {
  return Math.ceil(Math.max(bytes, 1) / allocationAlignment) * allocationAlignment;
}

/** True for buffers that are live when the program starts (inputs) or when it ends (outputs). */
function isPinned(buffer: PlannedBuffer): boolean {
  return buffer.firstStep < 0 || buffer.lastStep === Infinity;
}

/**
 * Assigns byte offsets. Program inputs (first step -1) are all live when the program starts, and
 * outputs (last step Infinity) are all live when it ends. Both get consecutive offsets at the bottom of
 * the arena, which keeps them out of the first-fit search and planning linear in their number. The
 * other buffers are placed by first fit in order of first use. A buffer may reuse the space of any
 * buffer whose last use came strictly before its first write.
 */
export function planMemory(buffers: readonly PlannedBuffer[]): { offsets: number[]; arenaBytes: number } {
  const offsets = new Array<number>(buffers.length);
  let inputBytes = 0;
  buffers.forEach((buffer, i) => {
    if (!isPinned(buffer)) return;
    offsets[i] = inputBytes;
    inputBytes += aligned(buffer.bytes);
  });

  const order = buffers.flatMap((buffer, i) => (isPinned(buffer) ? [] : [i])).sort((a, b) => buffers[a].firstStep - buffers[b].firstStep || a - b);
  // Ranges still in use, sorted by start. Buffers come in order of first write, so a range whose last
  // read is before the current first write can be dropped for good.
  let live: { start: number; end: number; lastStep: number }[] = [];
  let arenaBytes = inputBytes;

  for (const i of order) {
    const buffer = buffers[i];
    const size = aligned(buffer.bytes);
    live = live.filter((r) => r.lastStep >= buffer.firstStep);
    let offset = inputBytes;
    let at = 0;
    for (; at < live.length; at++) {
      if (offset + size <= live[at].start) break;
      offset = Math.max(offset, live[at].end);
    }
    offsets[i] = offset;
    live.splice(at, 0, { start: offset, end: offset + size, lastStep: buffer.lastStep });
    arenaBytes = Math.max(arenaBytes, offset + size);
  }
  return { offsets, arenaBytes };
}
