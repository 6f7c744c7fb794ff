/**
 * The core's error type, as front ends import it. It is defined in ports/errors.ts: the ports
 * promise the same vocabulary, and adapters, which must not import the core, throw it from there.
 */
export * from '../ports/errors.js';
