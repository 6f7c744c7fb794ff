/** "Did you mean …?" for a mistyped setting name: the closest known name, if it is close. */

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The known name nearest to `name` (case-insensitive edit distance at most a third of its length, at least 2), or undefined. */
export function closest(name: string, known: Iterable<string>): string | undefined {
  const n = name.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(n, k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(2, Math.floor(n.length / 3)) ? best : undefined;
}

export const didYouMean = (name: string, known: Iterable<string>): string => {
  const c = closest(name, known);
  return c ? ` (did you mean ${c}?)` : '';
};
