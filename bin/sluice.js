#!/usr/bin/env node
// Entry point of the `sluice` command: runs the compiled CLI (built by `npm ci` via `prepare`).
import '../dist/cli/main.js';
