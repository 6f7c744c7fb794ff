import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { withStatementCache } from './sqlite-statements.js';

describe('SQLite statement cache', () => {
  it('reuses a statement by its SQL text, but never one that is still executing', () => {
    const db = withStatementCache(new SQLite(':memory:'));
    const a = db.prepare('select 1 as x');
    assert.equal(db.prepare('select 1 as x'), a, 'reused');
    db.prepare('create table t (n integer)').run();
    for (let i = 0; i < 5; i++) db.prepare('insert into t values (?)').run(i);
    const scan = db.prepare('select n from t order by n');
    const it = scan.iterate() as IterableIterator<{ n: number }>;
    assert.equal(it.next().value?.n, 0);
    // The same query while the first is still being iterated: a fresh statement, both work.
    const again = db.prepare('select n from t order by n');
    assert.notEqual(again, scan);
    assert.deepEqual(
      (again.all() as { n: number }[]).map((r) => r.n),
      [0, 1, 2, 3, 4],
    );
    assert.equal(it.next().value?.n, 1);
    it.return?.();
    assert.equal(db.prepare('select n from t order by n'), scan, 'the cached one again once it is idle');
    db.close();
  });

  it('is bounded: the least recently used statement is dropped first', () => {
    const db = withStatementCache(new SQLite(':memory:'), 2);
    const one = db.prepare('select 1');
    const two = db.prepare('select 2');
    assert.equal(db.prepare('select 1'), one); // now "select 2" is the least recently used
    db.prepare('select 3');
    assert.equal(db.prepare('select 1'), one);
    assert.notEqual(db.prepare('select 2'), two, 'evicted, prepared anew');
    db.close();
  });
});
