import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createByteBudget } from './byte-budget.js';

test('a byte budget takes what fits, counts what is taken anyway, and wakes waiters once when it has room', () => {
  const b = createByteBudget(100);
  assert.equal(b.tryTake(60), true);
  assert.equal(b.tryTake(50), false, 'over the bound: nothing taken');
  assert.equal(b.used, 60);
  b.take(50); // already received: counted, even over the bound
  assert.equal(b.used, 110);
  assert.equal(b.full(), true);
  let woken = 0;
  const wake = () => woken++;
  b.onRoom(wake);
  b.release(5); // still full: nobody woken
  assert.equal(woken, 0);
  b.release(50);
  assert.equal(woken, 1);
  b.release(10);
  assert.equal(woken, 1, 'woken once per registration');
  b.onRoom(wake);
  b.forget(wake);
  b.take(100);
  b.release(100);
  assert.equal(woken, 1, 'a forgotten waiter is not woken');
  b.release(45);
  assert.equal(b.used, 0);
  assert.throws(() => createByteBudget(0), RangeError);
});
