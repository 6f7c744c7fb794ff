/**
 * The console's ledger screen in a real browser (Debian's Chromium), on both dialects: an
 * administrator with a German browser opens it from the navigation, sees the verification state
 * and the newest events, filters by user and outcome, and gets export links for the selection; a
 * partner does not get the screen. No CSP violation, no page error, no serious axe finding.
 * Screenshot: test-output/screenshots/console-ledger.png.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DIALECTS } from '../helpers/dialects.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { axe, launchBrowser, screenshot, watch, type Watch } from '../helpers/browser.js';
import { serveWeb, type WebServed } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`console ledger in Chromium (${dialect})`, () => {
    let s: WebServed;
    let browser: Browser;
    let ctx: BrowserContext;
    let page: Page;
    let seen: Watch;

    before(async () => {
      s = await serveWeb(dialect);
      const sys = s.t.system;
      await s.t.core.admin.orgs.create(sys, { name: 'acme', ik: '123456780' });
      await s.t.core.admin.folders.create(sys, '/acme', { org: 'acme' });
      await s.t.user('root', { role: 'admin' });
      await s.t.user('lena', { org: 'acme' });
      await s.t.core.admin.grants.set(sys, 'lena', '/acme', 'list,read');
      // Some history: lena is refused a folder that is not hers.
      const lena = await s.t.core.auth.password('lena', TEST_PASSWORD, { protocol: 'http', remoteAddr: '127.0.0.9' });
      await s.t.core.files.list(lena, '/other').catch(() => undefined);
      await s.t.core.audit.checkpoint(sys);
      browser = await launchBrowser();
      ctx = await browser.newContext({ locale: 'de-DE', viewport: { width: 1280, height: 900 } });
      seen = await watch(ctx);
      page = await ctx.newPage();
    });
    after(async () => {
      await browser?.close();
      await s?.close();
    });

    const signIn = async (p: Page, login: string) => {
      await p.goto(`${s.base}/`);
      await p.getByLabel('Benutzername').fill(login);
      await p.getByLabel('Passwort').fill(TEST_PASSWORD);
      await p.getByRole('button', { name: 'Anmelden', exact: true }).click();
    };

    it('shows the ledger with its verification state, filters it and offers the export', async () => {
      await signIn(page, 'root');
      await page.getByRole('link', { name: 'Protokoll' }).click();
      await page.getByRole('heading', { name: 'Protokoll', level: 1 }).waitFor();
      const state = page.getByTestId('ledger-state');
      await state.getByText(/Letzter signierter Prüfpunkt: Eintrag \d+/).waitFor();
      await state.getByText(/Kette seit dem Prüfpunkt: unversehrt/).waitFor();
      const table = page.getByTestId('ledger-table');
      await table.waitFor();
      assert.ok((await table.locator('tbody tr').count()) > 5);
      await page.getByLabel('Benutzer', { exact: true }).fill('lena');
      await page.getByLabel('Ergebnis').selectOption('denied');
      await page.getByRole('button', { name: 'Suchen' }).click();
      await table.getByRole('cell', { name: 'verweigert' }).first().waitFor();
      const rows = table.locator('tbody tr');
      await page.waitForTimeout(200);
      const texts = await rows.allInnerTexts();
      assert.ok(texts.length >= 1, texts.join('\n'));
      for (const r of texts) assert.match(r, /lena[\s\S]*verweigert/);
      const csv = await page.getByRole('link', { name: 'Als CSV exportieren' }).getAttribute('href');
      assert.match(csv ?? '', /^\/api\/v1\/admin\/ledger\/export\?user=lena&outcome=denied&format=csv$/);
      const res = await page.request.get(`${s.base}${csv}`);
      assert.equal(res.status(), 200);
      assert.match(await res.text(), /"lena"/);
      await screenshot(page, dialect === DIALECTS[0] ? 'console-ledger' : `console-ledger-${dialect}`);
      assert.deepEqual(await axe(page), [], 'axe on the ledger');
      assert.deepEqual(seen.violations, []);
      assert.deepEqual(seen.errors, []);
    });

    it('a partner has no console', async () => {
      const p = await ctx.browser()!.newContext({ locale: 'de-DE' });
      const w = await watch(p);
      const pg = await p.newPage();
      await signIn(pg, 'lena');
      await pg.waitForURL(/\/files/);
      assert.equal(await pg.getByRole('link', { name: 'Protokoll' }).count(), 0);
      const r = await pg.request.get(`${s.base}/api/v1/admin/ledger/events`);
      assert.equal(r.status(), 403);
      assert.deepEqual(w.violations, []);
      await p.close();
    });
  });
}
