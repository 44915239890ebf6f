import { availableParallelism } from "node:os";
import { describe, expect, test } from "vitest";
import { trainOptionsFrom, UsageError } from "../../src/cli/index.js";

describe("train flags", () => {
  test("values parse in both forms", () => {
    const options = trainOptionsFrom(["--epochs", "3", "--lr=0.01", "--seq-len", "64", "--out", "/tmp/x"]);
    expect(options?.epochs).toBe(3);
    expect(options?.lr).toBe(0.01);
    expect(options?.seqLen).toBe(64);
    expect(options?.out).toBe("/tmp/x");
    expect(options?.resume).toBe(false);
  });

  test("resume alone or with a file", () => {
    expect(trainOptionsFrom(["--resume"])?.resume).toBe(true);
    expect(trainOptionsFrom(["--resume=/tmp/c.nb"])?.resume).toBe("/tmp/c.nb");
    expect(trainOptionsFrom(["--resume", "--epochs", "2"])?.epochs).toBe(2);
  });

  test("bad values name flag and accepted values", () => {
    expect(() => trainOptionsFrom(["--epochs", "0"])).toThrow(UsageError);
    expect(() => trainOptionsFrom(["--epochs", "0"])).toThrow("--epochs 0 is invalid; accepted values: a positive integer");
    expect(() => trainOptionsFrom(["--batch-size", "2.5"])).toThrow("--batch-size 2.5 is invalid");
    expect(() => trainOptionsFrom(["--lr"])).toThrow("--lr needs a value: a positive number");
  });

  test("mesh shapes parse", () => {
    expect(trainOptionsFrom(["--mesh", "1"])?.mesh).toEqual([1]);
    expect(trainOptionsFrom(["--mesh", "2"])?.mesh).toEqual([2]);
    expect(trainOptionsFrom(["--mesh=2,2"])?.mesh).toEqual([2, 2]);
    expect(trainOptionsFrom(["--mesh", "2x2"])?.mesh).toEqual([2, 2]);
    expect(trainOptionsFrom([])?.mesh).toEqual([availableParallelism()]);
  });

  test("bad mesh shapes are rejected", () => {
    for (const raw of ["0", "2,0", "2,x", "2,", "-1", "1.5", "2x", "x2"]) {
      expect(() => trainOptionsFrom(["--mesh", raw])).toThrow(UsageError);
      expect(() => trainOptionsFrom(["--mesh", raw])).toThrow(`--mesh ${raw} is invalid; accepted values: device counts per mesh axis`);
    }
  });

  test("unknown flag lists accepted flags", () => {
    expect(() => trainOptionsFrom(["--epoch", "2"])).toThrow(/unknown flag --epoch; accepted flags: --epochs, --batch-size/);
    expect(() => trainOptionsFrom(["extra"])).toThrow(/unexpected argument "extra"/);
  });
});
