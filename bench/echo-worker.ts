// Piscina worker for the dispatch baseline in bench/mesh.ts: returns its task unchanged.

export default function echo(task: number): number {
  return task;
}
