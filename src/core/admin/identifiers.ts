/**
 * Identifiers of the German social insurance field, validated with their check digits.
 *
 * IK (Institutionskennzeichen, 9 digits): digits 1–2 class, 3–8 serial number, 9 check digit —
 * the serial digits weighted 2,1,2,1,2,1, the cross sums of the products added, modulo 10.
 * Betriebsnummer (8 digits): digits 1–7 weighted 1,2,1,2,1,2,1, cross sums added, modulo 10.
 */

const crossSum = (n: number): number => (n > 9 ? n - 9 : n);

function weightedCheck(digits: string, weights: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += crossSum(Number(digits[i]) * weights[i]!);
  return sum % 10;
}

/** True when `ik` is nine digits whose last digit is the GKV check digit. */
export function isValidIk(ik: string): boolean {
  if (!/^\d{9}$/.test(ik)) return false;
  return weightedCheck(ik.slice(2, 8), [2, 1, 2, 1, 2, 1]) === Number(ik[8]);
}

/** True when `bn` is eight digits whose last digit is the Betriebsnummer check digit. */
export function isValidBetriebsnummer(bn: string): boolean {
  if (!/^\d{8}$/.test(bn)) return false;
  return weightedCheck(bn, [1, 2, 1, 2, 1, 2, 1]) === Number(bn[7]);
}

/** The IK number made of eight digits and their check digit (fixtures, seeds). */
export function ikWithCheckDigit(first8: string): string {
  if (!/^\d{8}$/.test(first8)) throw new RangeError('eight digits expected');
  return first8 + String(weightedCheck(first8.slice(2, 8), [2, 1, 2, 1, 2, 1]));
}
