/** Summary statistics for benchmark samples. Percentiles interpolate between the two nearest ranks. */

export function percentile(samples: readonly number[], fraction: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const position = (sorted.length - 1) * fraction;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const below = sorted[lower]!;
  return below + (sorted[upper]! - below) * (position - lower);
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 0.5);
}

export function mean(samples: readonly number[]): number {
  return samples.length === 0 ? Number.NaN : sum(samples) / samples.length;
}

export function sum(samples: readonly number[]): number {
  return samples.reduce((total, value) => total + value, 0);
}

export function minimum(samples: readonly number[]): number {
  return samples.length === 0 ? Number.NaN : Math.min(...samples);
}
