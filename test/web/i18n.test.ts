/**
 * The web app's message catalogues: every messages.en.ts under web/src has a messages.de.ts next
 * to it with exactly the same keys, no message is empty, placeholders match between the two
 * languages, and every key the sources name literally — t('…'), tn('…', n) (as key.one and
 * key.other), and registered screen titles — exists in both. Error codes of the API have a message.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ERROR_CODES } from '../../src/core/errors.js';

const SRC = path.resolve(import.meta.dirname, '../../web/src');
type Cat = Record<string, string>;

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

async function catalogues(): Promise<{ dir: string; en: Cat; de: Cat }[]> {
  const out = [];
  for (const f of walk(SRC).filter((f) => path.basename(f) === 'messages.en.ts')) {
    const deFile = path.join(path.dirname(f), 'messages.de.ts');
    assert.ok(fs.existsSync(deFile), `${path.relative(SRC, f)} has no messages.de.ts next to it`);
    const en = (await import(pathToFileURL(f).href)) as Record<string, Cat>;
    const de = (await import(pathToFileURL(deFile).href)) as Record<string, Cat>;
    const one = (m: Record<string, Cat>) => Object.values(m).find((v) => v && typeof v === 'object')!;
    out.push({ dir: path.relative(SRC, path.dirname(f)), en: one(en), de: one(de) });
  }
  return out;
}

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('web app messages', () => {
  it('has the same keys in German and English, none empty, the same placeholders', async () => {
    const cats = await catalogues();
    assert.ok(cats.length >= 1);
    for (const { dir, en, de } of cats) {
      const missingDe = Object.keys(en).filter((k) => !(k in de));
      const missingEn = Object.keys(de).filter((k) => !(k in en));
      assert.deepEqual(missingDe, [], `${dir}: keys missing in German`);
      assert.deepEqual(missingEn, [], `${dir}: keys missing in English`);
      for (const k of Object.keys(en)) {
        assert.ok(en[k]!.trim() && de[k]!.trim(), `${dir}: ${k} is empty`);
        assert.deepEqual(placeholders(de[k]!), placeholders(en[k]!), `${dir}: ${k} has other placeholders in German`);
      }
    }
  });

  it('has every key the sources use, in both languages', async () => {
    const cats = await catalogues();
    const en: Cat = Object.assign({}, ...cats.map((c) => c.en));
    const de: Cat = Object.assign({}, ...cats.map((c) => c.de));
    const used = new Set<string>();
    for (const f of walk(SRC).filter((f) => /\.tsx?$/.test(f) && !/messages\.\w+\.ts$/.test(f))) {
      // Without comments (their examples are not uses).
      const src = fs
        .readFileSync(f, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
      for (const m of src.matchAll(/\bt\(\s*'([^']+)'/g)) used.add(m[1]!);
      for (const m of src.matchAll(/\btn\(\s*'([^']+)'/g)) {
        used.add(`${m[1]!}.one`);
        used.add(`${m[1]!}.other`);
      }
      for (const m of src.matchAll(/\btitle:\s*'([^']+)'/g)) used.add(m[1]!);
    }
    assert.ok(used.size > 50, `found only ${used.size} keys: is the scan broken?`);
    const missing = [...used].filter((k) => !(k in en) || !(k in de)).sort();
    assert.deepEqual(missing, [], 'keys used in web/src without a message in both languages');
  });

  it('has a message for every error code of the API, and for each upload state and role', async () => {
    const cats = await catalogues();
    const en: Cat = Object.assign({}, ...cats.map((c) => c.en));
    for (const code of [...ERROR_CODES, 'NETWORK', 'BUDGET']) assert.ok(`error.${code}` in en, `error.${code}`);
    for (const s of ['queued', 'uploading', 'done', 'failed', 'cancelled']) assert.ok(`uploads.state.${s}` in en, s);
    for (const r of ['partner', 'staff', 'admin']) assert.ok(`role.${r}` in en, r);
  });
});
