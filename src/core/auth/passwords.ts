/**
 * Password hashing: argon2id with OWASP's minimum (m=19 MiB, t=2, p=1). Hashing runs on libuv's
 * thread pool; a semaphore bounds how many run at once so a login storm cannot starve transfers.
 */
import argon2 from 'argon2';
import { CoreError } from '../errors.js';

const OPTS = { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 } as const;
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

export interface Hasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Spends the time of one verification without a real hash (unknown users). */
  dummyVerify(password: string): Promise<void>;
}

export function createHasher(concurrency: number): Hasher {
  let running = 0;
  const waiting: (() => void)[] = [];
  async function limited<T>(fn: () => Promise<T>): Promise<T> {
    if (running >= concurrency) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  }
  let dummy: Promise<string> | undefined;
  return {
    hash: (pw) => limited(() => argon2.hash(pw, OPTS)),
    verify: (h, pw) => limited(() => argon2.verify(h, pw).catch(() => false)),
    async dummyVerify(pw) {
      dummy ??= argon2.hash('not-a-real-password-' + Math.random(), OPTS);
      const h = await dummy;
      await limited(() => argon2.verify(h, pw).catch(() => false));
    },
  };
}

/** The password policy: length only (NIST SP 800-63B), no composition rules. */
export function checkPasswordPolicy(pw: string, login?: string): void {
  if (typeof pw !== 'string' || pw.length < MIN_PASSWORD_LENGTH) {
    throw new CoreError('INVALID_INPUT', `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (pw.length > MAX_PASSWORD_LENGTH) throw new CoreError('INVALID_INPUT', `password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  if (login && pw.toLowerCase().includes(login.toLowerCase())) throw new CoreError('INVALID_INPUT', 'password must not contain the login');
}
