// ESLint flat config. Deliberately NOT type-aware (no parserOptions.project), so `npx eslint .`
// stays fast; the type checker (`tsc --noEmit`) does the type-level work.
//
// Besides modest recommended sets, two project rules are errors (see
// shared/design/architecture.md, rules 1 and 4; test/lint-rules.test.ts proves both still bite):
//   1. No raw SQL with spliced-in values anywhere under src/ (no-restricted-syntax).
//   2. The gate: the front ends (src/protocols/**, src/cli/**) reach data only through the core's
//      public face, src/core/index.ts and src/core/errors.ts (no-restricted-imports).
//   3. The fences around the core: src/core/** imports no adapter, protocol, app, CLI or config
//      (it is wired with ports); src/adapters/** do not import the core (the error vocabulary the
//      ports promise is in src/ports/errors.ts).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { defineConfig } from 'eslint/config';

// ---------------------------------------------------------------------------------------------
// Rule 4: the database is reached only through Kysely's query builder.
// ---------------------------------------------------------------------------------------------
const SQL_MESSAGE = "build SQL with Kysely's query builder; values must be bound parameters";

// `sql` as Kysely exports it, whether imported by name (`sql.raw`) or through a namespace
// (`k.sql.raw`). Importing it under another name is forbidden below, so this sees every use.
const SQL_OBJECT = ":matches([callee.object.name='sql'], [callee.object.property.name='sql'])";
// An argument whose value is fixed in the source: a string literal or a template without `${}`.
const FIXED = 'Literal, TemplateLiteral[expressions.length=0]';
// A string built at run time: a template with `${}` or a concatenation.
const BUILT = "TemplateLiteral[expressions.length>0], BinaryExpression[operator='+']";

/** no-restricted-syntax entries that apply to every file under src/. */
const rawSqlSelectors = [
  {
    selector: `CallExpression[callee.property.name=/^(raw|lit)$/]${SQL_OBJECT}`,
    message: `sql.raw()/sql.lit() splice text into SQL: ${SQL_MESSAGE}`,
  },
  {
    selector: "CallExpression[callee.object.name='CompiledQuery'][callee.property.name='raw']",
    message: `CompiledQuery.raw() runs hand-written SQL: ${SQL_MESSAGE}`,
  },
  {
    selector: `CallExpression[callee.property.name=/^(id|ref|table)$/]${SQL_OBJECT} > :not(${FIXED}).arguments`,
    message: `sql.id()/sql.ref()/sql.table() take only string literals (a computed identifier is spliced into SQL): ${SQL_MESSAGE}`,
  },
  {
    selector: "CallExpression[callee.property.name='unsafe']",
    message: `.unsafe() runs unchecked SQL: ${SQL_MESSAGE}`,
  },
  {
    selector: `CallExpression[callee.property.name=/^(query|prepare)$/] > :matches(${BUILT}).arguments:first-child`,
    message: `SQL text built from strings passed to .query()/.prepare(): ${SQL_MESSAGE}`,
  },
  {
    selector: `CallExpression[callee.property.name='query'] > ObjectExpression.arguments > Property[key.name='text'] > :matches(${BUILT}).value`,
    message: `SQL text built from strings passed to .query({ text }): ${SQL_MESSAGE}`,
  },
  {
    selector: "ImportSpecifier[imported.name='sql'][local.name!='sql']",
    message: "import Kysely's `sql` under its own name, so the raw-SQL lint rule can see every use",
  },
];

// ---------------------------------------------------------------------------------------------
// Rule 1: one gate. Front ends import only the core's public face, their own folder, src/config
// and npm packages other than the database drivers. Specifiers are matched as written, so the
// patterns work at any relative depth (`../adapters`, `../../../adapters`, ...).
// ---------------------------------------------------------------------------------------------
const GATE_MESSAGE =
  'front ends reach data only through the core: import from core/index.js (or core/errors.js) — ' +
  'no adapters, ports, core internals or database packages (architecture rule 1)';
const DB_PACKAGES = ['kysely', 'better-sqlite3', 'pg', 'pg-pool', 'pg-cursor', 'pg-query-stream', 'node:sqlite'];

const gatePatterns = [
  // ../../adapters/db/connect.js, ../adapters/storage/local.js, ...
  { regex: String.raw`^\.{1,2}/(.*/)?adapters(/|$)`, message: GATE_MESSAGE },
  // ports: the database schema and the interfaces the core is wired with (db handle, blob store).
  { regex: String.raw`^\.{1,2}/(.*/)?ports(/|$)`, message: GATE_MESSAGE },
  // core internals: anything under core/ except core/index.js and core/errors.js.
  { regex: String.raw`^\.{1,2}/(.*/)?core(/(?!(index|errors)\.js$)|$)`, message: GATE_MESSAGE },
  // '../http/../../adapters/x.js' would slip past the patterns above: require normalised paths.
  {
    regex: String.raw`(^|/)[^./][^/]*/\.\.(/|$)|.+/\.(/|$)`,
    message: 'write relative import paths in normalised form (no "x/.." or "/./" segments)',
  },
  // subpaths of the database packages ('kysely/helpers/postgres', 'pg/lib/...').
  { regex: `^(${DB_PACKAGES.join('|')})/`, message: GATE_MESSAGE },
];

const gateImports = [
  'error',
  {
    paths: DB_PACKAGES.map((name) => ({ name, message: GATE_MESSAGE })),
    patterns: gatePatterns,
  },
];

// Rule 1, the fences: what the core and the adapters may not import (normalised paths are
// required by the same pattern as above).
const CORE_FENCE_MESSAGE = 'the core imports no adapter, protocol, app, CLI or config: it is wired with ports (architecture rule 1)';
const ADAPTER_FENCE_MESSAGE = 'adapters do not import the core: implement a port (src/ports/), throw the errors of src/ports/errors.ts (architecture rule 1)';
const normalised = gatePatterns[3];
const coreFence = [
  'error',
  { patterns: [{ regex: String.raw`^\.{1,2}/(.*/)?(adapters|protocols|app|cli|config)(/|$)`, message: CORE_FENCE_MESSAGE }, normalised] },
];
const adapterFence = ['error', { patterns: [{ regex: String.raw`^\.{1,2}/(.*/)?core(/|$)`, message: ADAPTER_FENCE_MESSAGE }, normalised] }];

// `await import('pg')` is not seen by no-restricted-imports.
const gateDynamicImportSelectors = [
  {
    // (esquery regexes cannot contain a literal slash: \u002F stands for it.)
    selector: `ImportExpression[source.value=/^(${DB_PACKAGES.join('|')})(\\u002F|$)/]`,
    message: GATE_MESSAGE,
  },
  {
    selector: String.raw`ImportExpression[source.value=/^\.{1,2}\u002F(.*\u002F)?(adapters|ports)(\u002F|$)/]`,
    message: GATE_MESSAGE,
  },
  {
    selector: 'ImportExpression > :not(Literal).source',
    message: 'front ends import modules by literal path only (the gate lint rule must be able to see it)',
  },
];

// Globals of Node for the plain JavaScript files (scripts/, bin/, this file): TypeScript files are
// checked by tsc instead (typescript-eslint turns no-undef off for them).
const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'AbortController',
    'AbortSignal',
    'TextEncoder',
    'TextDecoder',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'structuredClone',
    'fetch',
    'performance',
  ].map((name) => [name, 'readonly']),
);

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'data/', '.bench/', '.test-tmp/', 'coverage/', 'web/dist/', 'test-output/'] },

  js.configs.recommended,
  tseslint.configs.recommended,

  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: nodeGlobals,
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // Fights the style (interfaces that extend one type, `catch {}` for best-effort steps).
      '@typescript-eslint/no-empty-object-type': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
      // The path parser and validators match control, invisible and combining characters on
      // purpose, to reject them; a redundant escape in a regex is harmless.
      'no-control-regex': 'off',
      'no-misleading-character-class': 'off',
      'no-useless-escape': 'warn',
    },
  },

  // Rule 4 everywhere under src/.
  {
    files: ['src/**/*.{ts,mts,cts,js,mjs}'],
    rules: { 'no-restricted-syntax': ['error', ...rawSqlSelectors] },
  },

  // Rule 1 for the front ends. (A later config object replaces a rule's options, so the raw-SQL
  // selectors are repeated here together with the dynamic-import ones.)
  {
    files: ['src/protocols/**/*.{ts,mts,cts,js,mjs}', 'src/cli/**/*.{ts,mts,cts,js,mjs}'],
    rules: {
      'no-restricted-imports': gateImports,
      'no-restricted-syntax': ['error', ...rawSqlSelectors, ...gateDynamicImportSelectors],
    },
  },

  // Rule 1, the fences around the core and the adapters.
  {
    files: ['src/core/**/*.{ts,mts,cts,js,mjs}'],
    rules: { 'no-restricted-imports': coreFence },
  },
  {
    files: ['src/adapters/**/*.{ts,mts,cts,js,mjs}'],
    rules: { 'no-restricted-imports': adapterFence },
  },
);
