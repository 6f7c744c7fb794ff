/** Input validation at the core's edge: a zod schema, and the first problem as one INVALID_INPUT error. */
import type { z } from 'zod';
import { CoreError } from './errors.js';

export function parseWith<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new CoreError('INVALID_INPUT', `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`);
  }
  return r.data;
}
