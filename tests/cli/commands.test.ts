import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";
import { infoLines, runCli } from "../../src/cli/index.js";

const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("nabla-ts command line", () => {
  test("--version prints the package version", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    expect(await runCli(["--version"])).toBe(0);
    expect(log).toHaveBeenCalledWith(version);
  });

  test("info names this package's version", () => {
    expect(infoLines()[0]).toBe(`nabla-ts ${version}`);
  });

  test("unknown command exits with 2", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await runCli(["fly"])).toBe(2);
    expect(String(error.mock.calls[0][0])).toContain('unknown command "fly"; accepted commands: train, info, bench');
  });

  test("unknown flag lists the accepted ones", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await runCli(["info", "--bogus"])).toBe(2);
    expect(String(error.mock.calls[0][0])).toContain("accepted flags: --help");
  });

  test("bad mesh exits with 2", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await runCli(["train", "--mesh", "2,x"])).toBe(2);
    expect(String(error.mock.calls[0][0])).toContain("--mesh 2,x is invalid; accepted values: device counts per mesh axis");
  });

  test("bad --out and --resume exit early", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const folder = mkdtempSync(join(tmpdir(), "nabla-out-"));
    const file = join(folder, "a-file");
    writeFileSync(file, "");
    expect(await runCli(["train", "--mesh", "1", "--out", file])).toBe(2);
    expect(String(error.mock.calls[0][0])).toContain(`--out ${file} is a file, not a folder`);
    expect(await runCli(["train", "--mesh", "1", "--out", folder, `--resume=${join(folder, "missing.nb")}`])).toBe(2);
    expect(String(error.mock.calls[1][0])).toContain("missing.nb: no such file");
    const notMade = join(folder, "new", "runs");
    expect(await runCli(["train", "--mesh", "1", "--out", notMade, `--resume=${join(folder, "missing.nb")}`])).toBe(2);
    expect(existsSync(notMade), "a failed run leaves no --out folder behind").toBe(false);
    expect(await runCli(["train", "--mesh", "1", "--out", folder, "--resume", "x.nb"])).toBe(2);
    expect(String(error.mock.calls[3][0])).toContain('unexpected argument "x.nb"; to give --resume a value, write --resume=x.nb');
  });

  test("bench passes mesh shapes on", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    expect(await runCli(["bench", "--mesh", "1,2x2", "--rounds", "3", "--quick", "--print"])).toBe(0);
    expect(String(log.mock.calls.at(-1)?.[0])).toContain("npm run bench -- --mesh 1,2x2 --rounds 3 --quick");
  });

  test("bench rejects steps flags elsewhere", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await runCli(["bench", "--suite", "kernels", "--smoke", "--print"])).toBe(2);
    expect(String(error.mock.calls[0][0])).toContain("--smoke applies only to --suite steps, not --suite kernels");
  });
});
