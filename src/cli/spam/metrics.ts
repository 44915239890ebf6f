// Classification metrics with spam (label 1) as the positive class.

export interface Scores {
  readonly accuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/** Accuracy, precision, recall and F1 of `predicted` against `labels`; a ratio with a zero denominator is 0. */
export function scores(predicted: ArrayLike<number>, labels: ArrayLike<number>): Scores {
  let truePositive = 0;
  let falsePositive = 0;
  let falseNegative = 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    if (predicted[i] === labels[i]) correct++;
    if (predicted[i] === 1 && labels[i] === 1) truePositive++;
    if (predicted[i] === 1 && labels[i] === 0) falsePositive++;
    if (predicted[i] === 0 && labels[i] === 1) falseNegative++;
  }
  const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
  const precision = ratio(truePositive, truePositive + falsePositive);
  const recall = ratio(truePositive, truePositive + falseNegative);
  return { accuracy: ratio(correct, labels.length), precision, recall, f1: ratio(2 * precision * recall, precision + recall) };
}
