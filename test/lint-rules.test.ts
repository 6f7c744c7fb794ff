/**
 * The two project lint rules (eslint.config.js) must keep biting: the gate (front ends import
 * only the core's public face; architecture rule 1) and no raw SQL with spliced-in values
 * (architecture rule 4). Each case lints a snippet under a virtual path, so a config change that
 * quietly disables a rule, or stops matching a directory, fails here.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const eslint = new ESLint({ cwd: ROOT });

interface Found {
  errors: { ruleId: string | null; message: string; line: number }[];
  fatal: boolean;
}

async function lint(code: string, file: string): Promise<Found> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  assert.ok(result, `no lint result for ${file}`);
  return {
    errors: result.messages.filter((m) => m.severity === 2).map((m) => ({ ruleId: m.ruleId, message: m.message, line: m.line })),
    fatal: result.messages.some((m) => m.fatal),
  };
}

/** The snippet MUST be reported by `rule`, and by nothing unexpected (a parse error, say). */
async function expectError(code: string, file: string, rule: string, messagePart?: RegExp): Promise<void> {
  const { errors, fatal } = await lint(code, file);
  const what = `${JSON.stringify(code)} as ${file}`;
  assert.ok(!fatal, `${what}: snippet does not parse: ${JSON.stringify(errors)}`);
  const hits = errors.filter((e) => e.ruleId === rule);
  assert.ok(hits.length > 0, `${what}: expected a ${rule} error, got ${JSON.stringify(errors)}`);
  if (messagePart)
    assert.ok(
      hits.some((e) => messagePart.test(e.message)),
      `${what}: message: ${JSON.stringify(hits)}`,
    );
}

/** The snippet MUST lint clean (no error from any rule). */
async function expectClean(code: string, file: string): Promise<void> {
  const { errors } = await lint(code, file);
  assert.deepEqual(errors, [], `${JSON.stringify(code)} as ${file}: expected no errors`);
}

const GATE = 'no-restricted-imports';
const SYNTAX = 'no-restricted-syntax';

describe('lint rule: the gate (front ends import only the core public face)', () => {
  const frontEnds = ['src/protocols/http/x.ts', 'src/protocols/sftp/handlers/x.ts', 'src/protocols/x.ts', 'src/cli/x.ts', 'src/cli/commands/x.ts'];
  // `up` climbs from the virtual file's folder to src/.
  const up = (file: string) => '../'.repeat(file.split('/').length - 2) || './';

  for (const file of frontEnds) {
    const src = up(file);
    it(`${file}: adapters, ports, core internals and database packages are errors`, async () => {
      for (const code of [
        `import { openDatabase } from '${src}adapters/db/connect.js';\nexport const y = openDatabase;`,
        `import type { Database } from '${src}ports/db-schema.js';\nexport type Y = Database;`,
        `import type { BlobStore } from '${src}ports/blob-store.js';\nexport type Y = BlobStore;`,
        `import { parsePath } from '${src}core/paths.js';\nexport const y = parsePath;`,
        `import { openUpload } from '${src}core/files/open-upload.js';\nexport const y = openUpload;`,
        `export * from '${src}adapters/storage/local.js';`,
        `import { Kysely } from 'kysely';\nexport const y = Kysely;`,
        `import type { Kysely } from 'kysely';\nexport type Y = Kysely<never>;`,
        `import { sql } from 'kysely';\nexport const y = sql;`,
        `import pg from 'pg';\nexport const y = pg;`,
        `import SQLite from 'better-sqlite3';\nexport const y = SQLite;`,
        `import { jsonArrayFrom } from 'kysely/helpers/postgres';\nexport const y = jsonArrayFrom;`,
        `import { x } from './routes/../${src}adapters/db/connect.js';\nexport const y = x;`,
      ]) {
        await expectError(code, file, GATE);
      }
    });

    it(`${file}: dynamic imports of database packages and adapters are errors`, async () => {
      await expectError(`export const m = await import('pg');`, file, SYNTAX);
      await expectError(`export const m = await import('${src}adapters/db/connect.js');`, file, SYNTAX);
      await expectError(`const p = 'pg';\nexport const m = await import(p);`, file, SYNTAX);
    });

    it(`${file}: the core public face, config, own folder and other packages are allowed`, async () => {
      await expectClean(
        [
          `import { createCore } from '${src}core/index.js';`,
          `import { CoreError } from '${src}core/errors.js';`,
          `import { loadConfig } from '${src}config/config.js';`,
          `import { helper } from './helper.js';`,
          `import fastify from 'fastify';`,
          `import fs from 'node:fs';`,
          `export const y = [createCore, CoreError, loadConfig, helper, fastify, fs];`,
        ].join('\n'),
        file,
      );
    });
  }

  it('the composition root (src/main.ts, src/app/**) may import adapters', async () => {
    await expectClean(`import { openDatabase } from './adapters/db/connect.js';\nexport const y = openDatabase;`, 'src/main.ts');
    await expectClean(`import { openDatabase } from '../adapters/db/connect.js';\nexport const y = openDatabase;`, 'src/app/x.ts');
    await expectClean(`import { Kysely } from 'kysely';\nexport const y = Kysely;`, 'src/app/x.ts');
  });

  it('the exact case from the design: adapters import in src/protocols/http is an error, in src/main.ts it is not', async () => {
    const code = `import { x } from '../../adapters/db/connect.js';\nexport const y = x;`;
    await expectError(code, 'src/protocols/http/x.ts', GATE, /core/);
    await expectClean(code, 'src/main.ts');
    await expectError(`import { Kysely } from 'kysely';\nexport const y = Kysely;`, 'src/cli/x.ts', GATE);
  });
});

describe('lint rule: the fences around the core and the adapters', () => {
  it('the core imports no adapter, protocol, app, CLI or config', async () => {
    for (const [file, code] of [
      ['src/core/x.ts', `import { openDatabase } from '../adapters/db/connect.js';\nexport const y = openDatabase;`],
      ['src/core/files/x.ts', `import { LocalStore } from '../../adapters/storage/local-store.js';\nexport const y = LocalStore;`],
      ['src/core/x.ts', `import { buildHttpServer } from '../protocols/http/server.js';\nexport const y = buildHttpServer;`],
      ['src/core/auth/x.ts', `import { openInstance } from '../../app/instance.js';\nexport const y = openInstance;`],
      ['src/core/x.ts', `import { loadConfig } from '../config/config.js';\nexport const y = loadConfig;`],
      ['src/core/x.ts', `import { main } from '../cli/main.js';\nexport const y = main;`],
      ['src/core/x.ts', `import { x } from './files/../../adapters/db/connect.js';\nexport const y = x;`],
    ] as const) {
      await expectError(code, file, GATE, /core imports no adapter|normalised/);
    }
  });

  it('the core may import its ports, its own modules and the runtime', async () => {
    await expectClean(
      [
        `import type { Db } from '../ports/db-schema.js';`,
        `import { CoreError } from '../ports/errors.js';`,
        `import { decide } from '../access/decide.js';`,
        `import { chunkPipe } from '../../runtime/chunks.js';`,
        `export const y = [CoreError, decide, chunkPipe];`,
        `export type Y = Db;`,
      ].join('\n'),
      'src/core/files/x.ts',
    );
  });

  it('adapters do not import the core; the errors come from the ports', async () => {
    await expectError(
      `import { CoreError } from '../../core/errors.js';\nexport const y = CoreError;`,
      'src/adapters/storage/x.ts',
      GATE,
      /adapters do not import the core/,
    );
    await expectError(
      `import { createCore } from '../core/index.js';\nexport const y = createCore;`,
      'src/adapters/x.ts',
      GATE,
      /adapters do not import the core/,
    );
    await expectError(`import { decide } from '../../core/access/decide.js';\nexport const y = decide;`, 'src/adapters/db/x.ts', GATE);
    await expectClean(`import { CoreError } from '../../ports/errors.js';\nexport const y = CoreError;`, 'src/adapters/storage/x.ts');
  });
});

describe('lint rule: no raw SQL with spliced-in values (everywhere under src/)', () => {
  const files = ['src/core/x.ts', 'src/adapters/db/repositories/x.ts', 'src/protocols/http/x.ts', 'src/main.ts'];
  const header = `import { sql, CompiledQuery } from 'kysely';\ndeclare const db: any, pool: any, client: any, sqlite: any, userInput: string, x: string, v: unknown;\n`;

  for (const file of files) {
    it(`${file}: string-built SQL is an error`, async () => {
      for (const body of [
        'export const q = sql.raw(userInput);',
        "export const q = sql.raw('select 1');",
        'export const q = sql.lit(v);',
        'export const q = sql.id(x);',
        "export const q = sql.id('t', x);",
        'export const q = sql.ref(`users.${x}`);',
        'export const q = sql.table(x);',
        'export const q = CompiledQuery.raw(userInput);',
        'export const q = db.query(`select ${x}`);',
        "export const q = client.query('select * from t where a = ' + x);",
        'export const q = pool.query({ text: `select ${x}` });',
        'export const q = sqlite.prepare(`select * from ${x}`);',
        'export const q = pool.unsafe(userInput);',
      ]) {
        // The front ends may not import kysely at all (a second error); only the SQL rule matters here.
        await expectError(header + body, file, SYNTAX, /Kysely's query builder|own name/);
      }
      await expectError(`import { sql as s } from 'kysely';\nexport const q = s;`, file, SYNTAX, /own name/);
      await expectError(`import * as k from 'kysely';\ndeclare const x: string;\nexport const q = k.sql.raw(x);`, file, SYNTAX);
    });
  }

  it("Kysely's builder and its bound-parameter `sql` template are allowed", async () => {
    await expectClean(
      "import { sql } from 'kysely';\ndeclare const db: any, pool: any, client: any, userInput: string, x: string;\n" +
        [
          'export const a = sql`select * from users where id = ${x}`;',
          "export const b = sql.ref('users.id');",
          "export const c = sql.id('users');",
          "export const d = sql.table('users');",
          "export const e = db.selectFrom('users').where('login', '=', userInput).selectAll();",
          "export const f = client.query('select * from t where a = $1', [x]);",
          'export const g = pool.query(`select 1`);',
          'export const h = sql.join([sql`a`, sql`b`]);',
        ].join('\n'),
      'src/core/x.ts',
    );
  });
});

describe('lint: the real tree', () => {
  it('ignores build output and local state', async () => {
    for (const p of ['dist/main.js', 'node_modules/x/index.js', 'data/x.js', '.bench/x.js']) {
      assert.ok(await eslint.isPathIgnored(path.join(ROOT, p)), `${p} should be ignored`);
    }
  });

  it('`eslint src` reports zero errors (the tree obeys the rules)', async () => {
    const results = await eslint.lintFiles(['src']);
    const errors = results.flatMap((r) =>
      r.messages.filter((m) => m.severity === 2).map((m) => `${path.relative(ROOT, r.filePath)}:${m.line}:${m.column} ${m.ruleId ?? 'parse'}: ${m.message}`),
    );
    assert.deepEqual(errors, []);
  });
});
