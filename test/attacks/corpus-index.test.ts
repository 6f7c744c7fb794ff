/**
 * The attack corpus is covered: every row of its summary table (47) and every generic item (50)
 * names at least one test in test/attacks/, every named test exists, every row's tests carry its
 * CVE (or GHSA) id in their titles, and no attack test is left out of the index.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORPUS, CORPUS_ROWS, GENERIC, GENERIC_ITEMS, type TestRef } from './corpus-index.js';

const DIR = path.dirname(fileURLToPath(import.meta.url));

/** The titles of the it() calls in a test file (string literals as written). */
export function titlesOf(source: string): string[] {
  const out: string[] = [];
  const re = /\bit\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;
  for (let m = re.exec(source); m; m = re.exec(source)) out.push(m[2]!.replace(/\\(['"`\\])/g, '$1'));
  return out;
}

const titles = new Map<string, string[]>();
for (const f of fs.readdirSync(DIR)) {
  if (f.endsWith('.test.ts') && f !== 'corpus-index.test.ts') titles.set(f.replace(/\.test\.ts$/, ''), titlesOf(fs.readFileSync(path.join(DIR, f), 'utf8')));
}

const resolve = (ref: TestRef): string | undefined => titles.get(ref.file)?.find((t) => t.startsWith(ref.test));

describe('attack corpus index', () => {
  it('reads the attack test files (the title parser works)', () => {
    assert.deepEqual(titlesOf("it('a (b): c', x); it(\"d\", y); it('e\\'s', z)"), ['a (b): c', 'd', "e's"]);
    assert.ok(titles.size >= 12, `attack files: ${[...titles.keys()].join(', ')}`);
  });

  it('every corpus row (1-47) has at least one test, and each named test exists and carries the row’s CVE id', () => {
    assert.deepEqual(
      CORPUS.map((r) => r.row),
      Array.from({ length: CORPUS_ROWS }, (_, i) => i + 1),
    );
    for (const r of CORPUS) {
      assert.ok(r.tests.length > 0, `row ${r.row} (${r.cve}) has no test`);
      const found = r.tests.map((t) => resolve(t));
      found.forEach((f, i) => assert.ok(f, `row ${r.row} (${r.cve}): no test "${r.tests[i]!.test}…" in ${r.tests[i]!.file}.test.ts`));
      const ids = r.cve.match(/CVE-\d{4}-\d+|GHSA-[\w-]+?(?=,|$)/g) ?? [];
      for (const id of ids)
        assert.ok(
          found.some((f) => f!.includes(id)),
          `row ${r.row}: no test is named after ${id}`,
        );
    }
  });

  it('every generic item (1-50) has at least one test, and each named test exists', () => {
    assert.deepEqual(
      GENERIC.map((g) => g.item),
      Array.from({ length: GENERIC_ITEMS }, (_, i) => i + 1),
    );
    for (const g of GENERIC) {
      assert.ok(g.tests.length > 0, `item ${g.item} (${g.title}) has no test`);
      for (const t of g.tests) assert.ok(resolve(t), `item ${g.item}: no test "${t.test}…" in ${t.file}.test.ts`);
    }
  });

  it('no attack test is missing from the index', () => {
    const named = new Set([...CORPUS, ...GENERIC].flatMap((r) => r.tests.map((t) => `${t.file}|${resolve(t)}`)));
    for (const [file, ts] of titles) for (const t of ts) assert.ok(named.has(`${file}|${t}`), `${file}.test.ts: "${t}" is in no corpus row or item`);
  });
});
