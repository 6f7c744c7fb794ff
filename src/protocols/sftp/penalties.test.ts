import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMaxStartups, parsePenalties, type PenaltyPolicy } from '../../config/preauth.js';
import { createPenalties } from './penalties.js';

describe('per-source penalties (sshd PerSourcePenalties)', () => {
  const policy = parsePenalties('authfail:5s noauth:1s grace-exceeded:10s max:30s min:15s', '10.9.0.0/16, 2001:db8:1::/48') as PenaltyPolicy;

  it('refuse an address once its accumulated penalty reaches min, until it has run out; others are not affected', () => {
    let now = 1_000_000;
    const p = createPenalties(policy, () => now);
    p.add('192.0.2.1', 'authfail');
    p.add('192.0.2.1', 'authfail');
    assert.equal(p.refused('192.0.2.1'), false, '10 s < min 15 s');
    p.add('192.0.2.1', 'authfail');
    assert.equal(p.refused('192.0.2.1'), true);
    assert.equal(p.refused('192.0.2.2'), false);
    for (let i = 0; i < 20; i++) p.add('192.0.2.1', 'graceExceeded');
    now += 29_000;
    assert.equal(p.refused('192.0.2.1'), true, 'capped at max (30 s), still running');
    now += 1_001;
    assert.equal(p.refused('192.0.2.1'), false, 'run out');
    assert.equal(p.size, 0);
  });

  it('count IPv6 by /64 and never penalise exempt blocks', () => {
    const p = createPenalties(policy, () => 0);
    p.add('2001:db8:5:6:1::1', 'graceExceeded');
    p.add('2001:db8:5:6:ffff::2', 'graceExceeded');
    assert.equal(p.refused('2001:0db8:0005:0006::9'), true, 'the same /64');
    assert.equal(p.refused('2001:db8:5:7::1'), false, 'another /64');
    for (let i = 0; i < 5; i++) p.add('10.9.3.4', 'graceExceeded');
    for (let i = 0; i < 5; i++) p.add('2001:db8:1:2::1', 'graceExceeded');
    assert.equal(p.refused('10.9.3.4'), false);
    assert.equal(p.refused('2001:db8:1:2::1'), false);
  });

  it('parse as sshd writes them, and refuse what is not', () => {
    assert.deepEqual(parseMaxStartups('10:30:100'), { start: 10, rate: 30, full: 100 });
    assert.deepEqual(parseMaxStartups('50'), { start: 50, rate: 100, full: 50 });
    for (const bad of ['10:30', '0:30:10', '20:30:10', '10:0:20', 'x']) assert.equal(typeof parseMaxStartups(bad), 'string', bad);
    assert.equal(parsePenalties('off'), undefined);
    assert.equal((parsePenalties('authfail:2s,min:1m max-sources:10') as PenaltyPolicy).min, 60_000);
    for (const bad of ['authfail', 'crash:5s', 'min:soon']) assert.equal(typeof parsePenalties(bad), 'string', bad);
    assert.equal(typeof parsePenalties('off', '300.1.1.1'), 'undefined', '"off" ignores the exempt list');
    assert.equal(typeof parsePenalties('min:1s', '300.1.1.1'), 'string');
  });
});
