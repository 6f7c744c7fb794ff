/**
 * Property tests of the one client-path parser (core/paths.ts) with a fixed seed and a budget
 * that `npm run fuzz` scales up (src/core/paths.test.ts holds the parser's own, larger suite):
 * whatever the input, a parsed path has only valid names, formats back to itself, and resolving
 * dots never climbs above the root.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CoreError } from '../../src/core/errors.js';
import { formatPath, parsePath } from '../../src/core/paths.js';
import { budget } from './config.js';

const piece = fc.oneof(
  fc.constantFrom('..', '.', '/', '\\', '%2e', '%2f', '\u0000', '\uff0e', '\u2215', '\u202e', '\ufeff', 'CON', 'a', 'é', 'e\u0301', ' ', '~', ':', '\ud800'),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
const input = fc.array(piece, { maxLength: 16 }).map((a) => a.join(''));

const parsed = (s: string, opts = {}) => {
  try {
    return parsePath(s, opts);
  } catch (e) {
    assert.ok(e instanceof CoreError && (e.code === 'INVALID_PATH' || e.code === 'INVALID_INPUT'), `${JSON.stringify(s)} threw ${String(e)}`);
    return undefined;
  }
};

describe('fuzz: client paths', () => {
  it('a parsed path has only valid names and formats back to itself', () => {
    fc.assert(
      fc.property(input, (s) => {
        const p = parsed(s);
        if (!p) return;
        for (const seg of p.segments) {
          assert.ok(seg !== '' && seg !== '.' && seg !== '..', JSON.stringify(s));
          assert.doesNotMatch(seg, /[\\/\u0000-\u001f\u007f]/);
          assert.equal(seg, seg.normalize('NFC'));
        }
        const f = formatPath(p);
        assert.equal(formatPath(parsePath(f)), f, `not idempotent for ${JSON.stringify(s)}`);
      }),
      budget(5000),
    );
  });

  it('resolving dots never climbs above the root, and agrees with resolving them by hand', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', '..', '.', 'c'), { maxLength: 12 }), (segs) => {
        const p = parsed('/' + segs.join('/'), { resolveDots: true });
        const want: string[] = [];
        for (const s of segs) {
          if (s === '..') want.pop();
          else if (s !== '.') want.push(s);
        }
        if (p) assert.deepEqual([...p.segments], want);
      }),
      budget(2000),
    );
  });
});
