/**
 * Property tests of every HTTP input schema (issue 14 §4): for each operation of the OpenAPI
 * document that takes a JSON body, random JSON values — and valid-looking bodies with one field
 * replaced by an arbitrary value — are sent as a partner and as an administrator. Every answer is
 * below 500, an error is the JSON error shape without internals, nothing changes outside alice's
 * folder or for the fixture's accounts, and the ledger still verifies. SQLite only.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { attackTarget, type Target } from '../attacks/harness.js';
import { budget } from './config.js';

interface Op {
  readonly method: string;
  readonly url: string;
  readonly fields: string[];
}

const SKIP = new Set(['POST /api/v1/auth/logout', 'POST /api/v1/auth/logout-everywhere', 'PUT /api/v1/admin/lockdown', 'PUT /api/v1/admin/protocols/{name}']);

describe('fuzz: HTTP input schemas (sqlite)', () => {
  let x: Target;
  let ops: Op[];
  before(async () => {
    x = await attackTarget('sqlite');
    const doc = JSON.parse((await x.http('GET', '/api/openapi.json')).text) as {
      paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { properties?: object } }> } }>>;
    };
    ops = [];
    for (const [p, ms] of Object.entries(doc.paths))
      for (const [m, op] of Object.entries(ms)) {
        const schema = op.requestBody?.content?.['application/json']?.schema;
        if (!schema || SKIP.has(`${m.toUpperCase()} ${p}`)) continue;
        ops.push({
          method: m.toUpperCase(),
          url: p.replace('{login}', 'nobody-here').replace(/\{[^}]+\}/g, 'x'),
          fields: Object.keys(schema.properties ?? {}),
        });
      }
    assert.ok(ops.length >= 15, `${ops.length} operations with a JSON body`);
  });
  after(() => x?.close());

  const value = fc.oneof(
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('__proto__', 'constructor', '', ' ', 'a'.repeat(5000), '\u0000', '\ud800', -1, 0, 1e308, -0, 2 ** 53 + 1, true, null, [], {}),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  );

  it('random bodies for every JSON operation, as a partner and as an administrator, answer cleanly and change nothing they may not', async () => {
    const before = await x.snapshot();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 10_000 }),
        fc.boolean(),
        fc.oneof(
          value.map((v) => ({ whole: v })),
          fc.tuple(fc.nat(20), value).map(([i, v]) => ({ field: i, v })),
        ),
        async (i, asAdmin, shape) => {
          const op = ops[i % ops.length]!;
          let body: unknown;
          if ('whole' in shape) body = shape.whole;
          else {
            const f = op.fields[shape.field % Math.max(1, op.fields.length)] ?? 'x';
            body = { [f]: shape.v };
          }
          let text: string;
          try {
            text = JSON.stringify(body) ?? 'null';
          } catch {
            return;
          }
          const r = await x.http(op.method, op.url, {
            token: asAdmin ? x.tokens.root : x.tokens.alice,
            headers: { 'content-type': 'application/json' },
            body: text,
          });
          assert.ok(r.status < 500, `${op.method} ${op.url} ${text.slice(0, 120)}: ${r.status} ${r.text.slice(0, 200)}`);
          if (r.status >= 400) x.safe(r, `${op.method} ${op.url}`);
          if (!asAdmin && op.url.startsWith('/api/v1/admin/')) assert.ok(r.status >= 400, `${op.url} answered a partner ${r.status}`);
        },
      ),
      budget(300),
    );
    const after = await x.snapshot();
    const users = (s: typeof before) =>
      (s.rows.users as { login: string; role: string; status: string; password_hash: string }[]).filter((u) => ['root', 'alice', 'bob'].includes(u.login));
    assert.deepEqual(users(after), users(before), 'a fixture account changed');
    assert.deepEqual(after.rows.grants!.length >= before.rows.grants!.length, true);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    const verify = await x.http('GET', '/api/v1/admin/audit/verify', { token: x.tokens.root });
    assert.equal((JSON.parse(verify.text) as { ok: boolean }).ok, true, verify.text.slice(0, 300));
    await x.healthy();
  });
});
