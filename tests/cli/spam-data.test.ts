import { describe, expect, test } from "vitest";
import { encodeSplit, loadEmails, makeBatch, scores, stratifiedSplit, tokenize, visibleText, Vocabulary } from "../../src/cli/index.js";

const emails = loadEmails();

describe("SpamAssassin split", () => {
  test("corpus has 6046 emails with unique keys", () => {
    expect(emails).toHaveLength(6046);
    expect(new Set(emails.map((e) => e.key)).size).toBe(6046);
    expect(emails.filter((e) => e.label === 1)).toHaveLength(1896);
  });

  test("no email in both sets", () => {
    const { train, test: held } = stratifiedSplit(emails, 0);
    const trainKeys = new Set(train.map((e) => e.key));
    expect(train.length + held.length).toBe(6046);
    expect(held.filter((e) => trainKeys.has(e.key))).toEqual([]);
    expect(new Set(held.map((e) => e.key)).size).toBe(held.length);
  });

  test("each group is split 80/20", () => {
    const { test: held } = stratifiedSplit(emails, 0);
    const sizes = { "easy-ham-1": 2500, "easy-ham-2": 1400, "hard-ham-1": 250, "spam-1": 500, "spam-2": 1396 };
    for (const [group, size] of Object.entries(sizes)) {
      expect(held.filter((e) => e.group === group)).toHaveLength(Math.round(size * 0.2));
    }
  });

  test("seed fixes the split", () => {
    const keys = (seed: number): string[] => stratifiedSplit(emails, seed).test.map((e) => e.key);
    expect(keys(7)).toEqual(keys(7));
    expect(keys(7)).not.toEqual(keys(8));
  });
});

describe("tokenising and batches", () => {
  test("visible text keeps subject, sender and body", () => {
    const raw = "Received: from relay\nSubject: Cheap offer\nFrom: a@b.c\n\nBuy now!";
    expect(visibleText(raw)).toBe(" Cheap offer\n a@b.c\n\n\nBuy now!");
    expect(tokenize("Buy NOW!! only $5, isn't it")).toEqual(["buy", "now", "!", "!", "only", "$", "5", "isn't", "it"]);
  });

  test("vocabulary counts only given texts", () => {
    const vocab = Vocabulary.fromTexts([["a", "b", "a"], ["a", "c", "b"]], 10, 2);
    expect(vocab.words).toEqual(["a", "b"]);
    expect(vocab.idOf("a")).toBe(2);
    expect(vocab.idOf("c")).toBe(Vocabulary.unknownId);
  });

  test("padding mask marks padded positions", () => {
    const vocab = new Vocabulary(["x", "y"]);
    const data = encodeSplit([["x", "y", "x"], [], ["y", "y", "y", "y", "y"]], [0, 1, 1], vocab, 4);
    const batch = makeBatch(data, [0, 1, 2]);
    expect(batch.tokens.tolist()).toEqual([[2, 3, 2, 0], [1, 0, 0, 0], [3, 3, 3, 3]]);
    expect(batch.paddingMask.tolist()).toEqual([[false, false, false, true], [false, true, true, true], [false, false, false, false]]);
    expect(batch.labels.toArray()).toEqual(Int32Array.from([0, 1, 1]));
  });

  test("scores treat spam as positive", () => {
    const s = scores([1, 1, 0, 0], [1, 0, 1, 0]);
    expect(s.accuracy).toBe(0.5);
    expect(s.precision).toBe(0.5);
    expect(s.recall).toBe(0.5);
    expect(s.f1).toBe(0.5);
  });
});
