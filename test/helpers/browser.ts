/**
 * A real browser for tests: Debian's Chromium, headless, driven by playwright-core.
 *
 * - ensureChromium(): installs the `chromium` package with apt-get when /usr/bin/chromium is
 *   missing (as root; otherwise it fails saying so).
 * - ensureWebBuilt(): builds the web app (web/dist) when it is missing or older than its sources,
 *   so a test always sees the current app. Several test processes may ask at once: one builds
 *   (a lock directory), the others wait for it.
 * - launchBrowser(): a fresh browser (playwright gives each launch a new, empty profile directory).
 * - watch(context): every Content-Security-Policy violation (securitypolicyviolation events, from
 *   an init script on every page and frame) and every uncaught page error, for the test to assert
 *   that there were none.
 * - axe(page): axe-core's serious and critical violations on the page.
 * - screenshot(page, name): test-output/screenshots/NAME.png.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(import.meta.dirname, '../..');
export const SCREENSHOT_DIR = path.join(ROOT, 'test-output', 'screenshots');

/** Flags for a quiet, reproducible headless Chromium (playwright adds --headless and a fresh --user-data-dir itself). */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function ensureChromium(): void {
  if (fs.existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing; install it with: apt-get install -y chromium`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium, but ${CHROMIUM} is still missing`);
}

function newest(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Builds web/dist when it is missing or older than web/src, web/index.html or the Vite config. */
export async function ensureWebBuilt(): Promise<void> {
  const web = path.join(ROOT, 'web');
  const index = path.join(web, 'dist', 'index.html');
  const stale = () => {
    if (!fs.existsSync(index)) return true;
    const src = Math.max(
      newest(path.join(web, 'src')),
      fs.statSync(path.join(web, 'index.html')).mtimeMs,
      fs.statSync(path.join(web, 'vite.config.mjs')).mtimeMs,
    );
    return fs.statSync(index).mtimeMs < src;
  };
  if (!stale()) return;
  const lock = path.join(web, '.build-lock');
  for (let i = 0; ; i++) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // Another test process builds: wait for it (a lock older than 2 minutes is left over).
      if (Date.now() - fs.statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 120_000) fs.rmSync(lock, { recursive: true, force: true });
      await sleep(250);
      if (!stale()) return;
    }
  }
  try {
    if (stale()) {
      const { buildWeb } = (await import(path.join(ROOT, 'scripts', 'build-web.mjs'))) as { buildWeb: (o: { quiet: boolean }) => Promise<unknown> };
      await buildWeb({ quiet: true });
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export async function launchBrowser(): Promise<Browser> {
  ensureChromium();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
}

export interface Watch {
  /** CSP violations seen so far: "directive blocked-uri (source:line)". */
  readonly violations: string[];
  /** Uncaught errors in the pages. */
  readonly errors: string[];
}

/** Records CSP violations and page errors of every page of the context (install before the first page). */
export async function watch(context: BrowserContext): Promise<Watch> {
  const w: Watch = { violations: [], errors: [] };
  await context.exposeBinding('__sluiceCspViolation', (_source, v: string) => {
    w.violations.push(v);
  });
  // (Browser code as a string: this file is compiled without the DOM's types.)
  await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => {
    window.__sluiceCspViolation(e.effectiveDirective + ' ' + (e.blockedURI || '(inline)') + ' (' + (e.sourceFile || '?') + ':' + e.lineNumber + ')');
  });`);
  context.on('page', (p) => p.on('pageerror', (e) => w.errors.push(e.message)));
  return w;
}

let axeSource: string | undefined;

export interface AxeViolation {
  readonly id: string;
  readonly impact: string;
  readonly help: string;
  readonly nodes: number;
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function axe(page: Page): Promise<AxeViolation[]> {
  axeSource ??= fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const all = await page.evaluate<{ id: string; impact: string; help: string; nodes: unknown[] }[]>(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)`,
  );
  return all.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
