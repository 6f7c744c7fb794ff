import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ikWithCheckDigit, isValidBetriebsnummer, isValidIk } from './identifiers.js';

test('IK numbers: the GKV check digit over digits 3–8', () => {
  for (const ik of ['260326822', '123456780', '109500969']) assert.ok(isValidIk(ik), ik);
  // One digit changed, two digits swapped, wrong length, not digits.
  for (const ik of ['260326823', '123456789', '260328622', '12345678', '1234567800', '12345678a', '']) assert.equal(isValidIk(ik), false, ik);
});

test('IK numbers: every wrong check digit is refused', () => {
  for (let d = 0; d <= 9; d++) assert.equal(isValidIk(`26032682${d}`), d === 2, String(d));
});

test('Betriebsnummern: the check digit over digits 1–7', () => {
  for (const bn of ['98000006', '12345671']) assert.ok(isValidBetriebsnummer(bn), bn);
  for (const bn of ['98000007', '12345678', '1234567', '123456789', 'abcdefgh']) assert.equal(isValidBetriebsnummer(bn), false, bn);
  for (let d = 0; d <= 9; d++) assert.equal(isValidBetriebsnummer(`9800000${d}`), d === 6, String(d));
});

test('ikWithCheckDigit completes eight digits to a valid IK number', () => {
  assert.equal(ikWithCheckDigit('26032682'), '260326822');
  for (const p of ['10900101', '12345678', '99999999']) assert.ok(isValidIk(ikWithCheckDigit(p)), p);
  assert.throws(() => ikWithCheckDigit('1234567'));
});
