/**
 * Data-subject metadata of a file as front ends take it from users (CLI options, HTTP headers):
 * how many records / data subjects it holds and which data categories. Incident scope and the
 * Art. 33 report count from it, so every front end validates it the same way, here.
 *
 * Contract: `records` is a whole number 0…999,999,999,999 written in decimal digits only;
 * `categories` is a comma-separated list of 1…20 tokens, each 1…32 of [a-z0-9_-] starting with a
 * letter or digit (case-folded to lower case, blanks around commas ignored, duplicates dropped).
 * Anything else throws INVALID_INPUT with a message that does not echo the input.
 */
import { CoreError } from '../errors.js';

export const MAX_CATEGORIES = 20;
const RECORDS = /^\d{1,12}$/;
const CATEGORY = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export interface FileMetadataInput {
  /** Decimal digits (as typed or sent in a header). */
  readonly records?: string | undefined;
  /** Comma-separated category tokens. */
  readonly categories?: string | undefined;
}

export type FileMetadata = {
  readonly records?: number;
  readonly categories?: readonly string[];
};

/** Validates user-supplied file metadata; absent fields stay absent. */
export function parseFileMetadata(input: FileMetadataInput): FileMetadata {
  const out: { records?: number; categories?: string[] } = {};
  if (input.records !== undefined) {
    const r = input.records.trim();
    if (!RECORDS.test(r)) throw new CoreError('INVALID_INPUT', 'records must be a whole number of at most 12 digits');
    out.records = Number(r);
  }
  if (input.categories !== undefined) {
    const list = input.categories.split(',').map((c) => c.trim().toLowerCase());
    if (list.some((c) => c === '') || list.length > MAX_CATEGORIES) {
      throw new CoreError('INVALID_INPUT', `categories must be a comma-separated list of 1 to ${MAX_CATEGORIES} names`);
    }
    if (!list.every((c) => CATEGORY.test(c))) {
      throw new CoreError('INVALID_INPUT', 'a category name is 1 to 32 of a-z, 0-9, "-" and "_", starting with a letter or digit');
    }
    out.categories = [...new Set(list)];
  }
  return out;
}
