import { CoreError } from '../errors.js';

/** Turns unique-constraint violations from either dialect into ALREADY_EXISTS. */
export function mapUnique(e: unknown, what: string): never {
  const msg = String((e as { message?: unknown })?.message ?? '');
  const code = String((e as { code?: unknown })?.code ?? '');
  if (code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || /UNIQUE constraint failed/.test(msg)) {
    throw new CoreError('ALREADY_EXISTS', `${what} already exists`);
  }
  throw e;
}
