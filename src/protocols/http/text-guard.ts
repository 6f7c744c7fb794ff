/**
 * Text that no field of this API may carry: NUL and unpaired UTF-16 surrogates. PostgreSQL
 * refuses NUL in text (the lookup failed as a 500), and a lone surrogate silently becomes U+FFFD
 * on the way to the database, so what was checked is not what is stored. Found by the attack
 * suite's sweep (test/attacks/generic-sweep.test.ts, corpus §3 items 5 and 44).
 *
 * Client paths are left to the core's one path parser, which refuses these characters itself and
 * records the attempt in the ledger: the fs routes' wildcard and the `path`, `from` and `to` fields
 * of a JSON body. A `?path=` query is checked here (it also filters ledger queries, which go to the
 * database without the parser).
 */
import type { FastifyRequest } from 'fastify';
import { CoreError } from '../../core/errors.js';

const BAD = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const PATH_KEYS = new Set(['*', 'path', 'from', 'to']);

function bad(v: unknown, depth: number): boolean {
  if (typeof v === 'string') return BAD.test(v);
  if (depth > 32 || v === null || typeof v !== 'object') return false;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (BAD.test(k) || bad(x, depth + 1)) return true;
  return false;
}

function badFields(o: unknown, skipPaths: boolean): boolean {
  if (o === null || typeof o !== 'object') return bad(o, 0);
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (skipPaths && PATH_KEYS.has(k)) continue;
    if (BAD.test(k) || bad(v, 0)) return true;
  }
  return false;
}

/** A preValidation hook: 400 INVALID_INPUT for NUL or a lone surrogate in params, query or JSON body. */
export async function textGuard(request: FastifyRequest): Promise<void> {
  if (badFields(request.params, true) || badFields(request.query, false) || (request.body !== undefined && badFields(request.body, true))) {
    throw new CoreError('INVALID_INPUT', 'text with NUL characters or unpaired surrogates is not accepted');
  }
}
