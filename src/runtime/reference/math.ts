// Scalar special functions the JavaScript Math object lacks, accurate to about 1e-15 relative in float64.

const twoOverSqrtPi = 2 / Math.sqrt(Math.PI);

/** erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)); every term is positive, so nothing cancels. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return twoOverSqrtPi * Math.exp(-x2) * sum;
}

/** erfc(x) for x >= 3 from its continued fraction, evaluated from a fixed depth backwards. */
function erfcContinuedFraction(x: number): number {
  let tail = 0;
  for (let n = 60; n >= 1; n--) tail = n / 2 / (x + tail);
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / (x + tail);
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  if (a < 3) return erfSeries(x);
  return Math.sign(x) * (1 - erfcContinuedFraction(a));
}

/** Logistic sigmoid without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
