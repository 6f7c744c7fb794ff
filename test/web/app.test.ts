/**
 * The web app in a real browser (Debian's Chromium through playwright-core), on both dialects:
 * a German browser gets German labels and signs in; files are uploaded with progress (per file
 * and overall), their sha256 shown, downloaded and compared; a refusal is shown translated;
 * folders are created, renamed, moved and deleted; TOTP is enrolled by reading the secret the app
 * shows, then needed at sign-in; a passkey is registered and signs in through a CDP virtual
 * authenticator; sessions are listed and ended; the language can be switched; the layout holds at
 * phone width. During the whole run no Content-Security-Policy violation and no page error may
 * happen, and axe-core finds no serious or critical violation on the main screens. Screenshots of
 * the main screens go to test-output/screenshots/.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Secret, TOTP } from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import path from 'node:path';
import { DIALECTS, tempDir } from '../helpers/dialects.js';
import { startOp, type TestOp } from '../helpers/oidc-op.js';
import { TEST_PASSWORD } from '../helpers/instance.js';
import { axe, launchBrowser, screenshot, watch, type Watch } from '../helpers/browser.js';
import { serveWeb, type WebServed } from './helpers.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The stored entries of a zip (the server stores, never compresses): name → bytes. */
function unzip(buf: Buffer): Map<string, Buffer> {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'a zip archive');
  const out = new Map<string, Buffer>();
  let at = buf.readUInt32LE(eocd + 16);
  for (let i = buf.readUInt16LE(eocd + 10); i > 0; i--) {
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const skip = nameLen + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    out.set(buf.subarray(at + 46, at + 46 + nameLen).toString('utf8'), buf.subarray(data, data + size));
    at += 46 + skip;
  }
  return out;
}

/** File bytes the server received, all protocols. */
async function bytesIn(s: WebServed): Promise<number> {
  return (await s.metrics.bytesIn.get()).values.reduce((n, v) => n + v.value, 0);
}

/** Polls `f` until it holds (page.waitForFunction would evaluate a string in the page, which the CSP forbids). */
async function until(what: string, f: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const totp = (secret: string, at: number) => TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: at });

for (const dialect of DIALECTS) {
  describe(`web app in Chromium (${dialect})`, () => {
    let s: WebServed;
    let browser: Browser;
    let de: BrowserContext;
    let page: Page;
    let seen: Watch;
    let op: TestOp;
    const shots = dialect === DIALECTS[0];
    const shot = async (p: Page, name: string) => {
      if (shots) await screenshot(p, name);
    };
    const noSeriousA11y = async (p: Page, what: string) => assert.deepEqual(await axe(p), [], `axe on ${what}`);

    before(async () => {
      s = await serveWeb(dialect, async (base) => {
        op = await startOp(`${base}/api/v1/auth/oidc/callback`);
        op.accounts['sub-ann'] = { preferred_username: 'ann', groups: ['sluice-staff'] };
        return {
          SLUICE_OIDC_ISSUER: op.issuer,
          SLUICE_OIDC_CLIENT_ID: op.clientId,
          SLUICE_OIDC_CLIENT_SECRET: op.clientSecret,
          SLUICE_OIDC_ROLE_CLAIM: 'groups',
          SLUICE_OIDC_ROLES: 'sluice-staff:staff',
          SLUICE_OIDC_PROVISION: 'true',
          SLUICE_OIDC_ORG: 'kasse',
        };
      });
      const sys = s.t.system;
      await s.t.core.admin.orgs.create(sys, { name: 'acme', ik: '123456780' });
      await s.t.core.admin.orgs.create(sys, { name: 'globex', betriebsnummer: '98000006' });
      await s.t.core.admin.orgs.create(sys, { name: 'kasse' });
      for (const f of ['/acme', '/acme/inbox', '/acme/outbox']) await s.t.core.admin.folders.create(sys, f, { org: 'acme' });
      await s.t.core.admin.folders.create(sys, '/globex', { org: 'globex' });
      await s.t.user('lena', { org: 'acme' });
      await s.t.core.admin.grants.set(sys, 'lena', '/acme/inbox', 'list,read,write,delete');
      await s.t.core.admin.grants.set(sys, 'lena', '/acme/outbox', 'list,read');
      browser = await launchBrowser();
      de = await browser.newContext({ locale: 'de-DE', viewport: { width: 1280, height: 800 } });
      seen = await watch(de);
      page = await de.newPage();
    });
    after(async () => {
      await browser?.close();
      await s?.close();
      await op?.close();
    });

    const signIn = async (p: Page, login: string) => {
      await p.getByLabel('Benutzername').fill(login);
      await p.getByLabel('Passwort').fill(TEST_PASSWORD);
      await p.getByRole('button', { name: 'Anmelden', exact: true }).click();
    };

    it('shows a German browser the German sign-in and signs in with the password', async () => {
      const r = await page.goto(`${s.base}/`);
      assert.equal(r?.status(), 200);
      await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
      assert.equal(await page.locator('html').getAttribute('lang'), 'de');
      await page.getByLabel('Benutzername').waitFor();
      await page.getByRole('button', { name: 'Mit Passkey anmelden' }).waitFor();
      await shot(page, 'sign-in');
      await noSeriousA11y(page, 'sign-in');
      // A wrong password: refused, in German.
      await page.getByLabel('Benutzername').fill('lena');
      await page.getByLabel('Passwort').fill('wrong password');
      await page.getByRole('button', { name: 'Anmelden', exact: true }).click();
      await page.getByRole('alert').getByText('Die Anmeldung ist fehlgeschlagen.', { exact: false }).waitFor();
      await signIn(page, 'lena');
      await page.getByRole('heading', { name: 'Alle Ordner' }).waitFor();
      await page.getByRole('navigation', { name: 'Ordner' }).getByRole('link', { name: 'acme' }).waitFor();
      // Only what lena may see: not globex.
      assert.equal(await page.getByRole('link', { name: 'globex' }).count(), 0);
    });

    it('uploads files with progress per file and overall, shows their sha256 and downloads the same bytes', async () => {
      await page.goto(`${s.base}/files?path=${encodeURIComponent('/acme/inbox')}`);
      await page.getByRole('heading', { name: 'inbox' }).waitFor();
      await page.getByText('Dieser Ordner ist leer.').waitFor();
      await shot(page, 'folder-view-empty');
      await noSeriousA11y(page, 'folder view');

      const big = randomBytes(50 * 1024 * 1024);
      const small = Buffer.from('Hallo Welt – Grüße aus der Praxis\n');
      // Slow the upload down so that its progress can be seen.
      const cdp = await de.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4 * 1024 * 1024 });
      // (playwright takes buffers up to 50 MB only: the big one from a file)
      const files = tempDir('web-upload');
      fs.writeFileSync(path.join(files.path, 'Befund Müller.bin'), big);
      await page.getByTestId('file-input').setInputFiles([path.join(files.path, 'Befund Müller.bin')]);
      await page.getByTestId('file-input').setInputFiles([{ name: 'gruß.txt', mimeType: 'text/plain', buffer: small }]);
      await page.getByRole('heading', { name: 'Hochladen' }).waitFor();
      // Progress: the overall bar moves between 0 and 1 while the big file is under way.
      const overall = page.getByTestId('upload-overall');
      await until('the overall progress between 5 % and 95 %', async () => {
        const v = Number(await overall.getAttribute('value'));
        return v > 0.05 && v < 0.95;
      });
      const fileBar = page.getByRole('progressbar', { name: 'Befund Müller.bin' });
      const v = Number(await fileBar.getAttribute('value'));
      assert.ok(v > 0 && v < 1, `per-file progress ${v}`);
      await shot(page, 'upload-in-progress');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await page.getByText('2 Dateien hochgeladen').waitFor({ timeout: 60_000 });
      await cdp.detach();
      await files.cleanup();

      // The list shows both, with their sha256 (in full, for copying).
      const row = page.getByRole('row', { name: /Befund Müller\.bin/ });
      await row.waitFor();
      assert.equal(await row.locator('.sha-value').textContent(), sha256(big));
      assert.match((await row.locator('.col-size').textContent()) ?? '', /^52,4\sMB$/); // German number format
      await shot(page, 'folder-view');
      await noSeriousA11y(page, 'folder view with files');

      // Download: an attachment with the same bytes.
      const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: 'Herunterladen', exact: true }).click()]);
      assert.equal(download.suggestedFilename(), 'Befund Müller.bin');
      assert.equal(sha256(fs.readFileSync(await download.path())), sha256(big));
      const [d2] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'gruß.txt herunterladen' }).click()]);
      assert.equal(fs.readFileSync(await d2.path()).toString(), small.toString());
      // The server has them, hashed.
      const stat = await s.t.core.files.stat(s.t.system, '/acme/inbox/Befund Müller.bin');
      assert.equal(stat.sha256, sha256(big));
    });

    it('continues an upload interrupted by a reload where it stopped (tus), sending little twice', async () => {
      const size = 40 * 1024 * 1024;
      const body = randomBytes(size);
      const dir = tempDir('web-resume');
      const file = path.join(dir.path, 'Röntgen.bin');
      fs.writeFileSync(file, body);
      try {
        const received = await bytesIn(s);
        const cdp = await de.newCDPSession(page);
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4 * 1024 * 1024 });
        await page.getByTestId('file-input').setInputFiles(file);
        const bar = page.getByRole('progressbar', { name: 'Röntgen.bin' });
        await until('a third of the upload', async () => Number(await bar.getAttribute('value')) > 0.33);
        // What the server holds so far survives the reload; the browser keeps where the upload is.
        await page.reload();
        await page.getByRole('heading', { name: 'inbox' }).waitFor();
        assert.equal(await page.getByRole('row', { name: /Röntgen\.bin/ }).count(), 0, 'not visible before it is complete');
        // (the server counts a request's bytes when it has ended)
        await until('the interrupted request counted', async () => (await bytesIn(s)) - received > size / 4, 10_000);
        const atReload = (await bytesIn(s)) - received;
        assert.ok(atReload < size, `received before the reload: ${atReload}`);
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
        await cdp.detach();
        // The same file, chosen again for the same folder, continues.
        await page.getByTestId('file-input').setInputFiles(file);
        await page.getByText('fortgesetzt', { exact: false }).waitFor();
        await page.getByText('1 Datei hochgeladen').waitFor({ timeout: 60_000 });
        await page.getByRole('row', { name: /Röntgen\.bin/ }).waitFor();
        assert.equal((await s.t.core.files.stat(s.t.system, '/acme/inbox/Röntgen.bin')).sha256, sha256(body));
        const total = (await bytesIn(s)) - received;
        assert.ok(total >= size && total <= size + 2 * 1024 * 1024, `bytes received for a ${size}-byte file: ${total}`);
        await page.getByRole('button', { name: 'Abgeschlossene entfernen' }).click();
      } finally {
        await dir.cleanup();
      }
    });

    it('downloads several selected files as one zip', async () => {
      await page.getByRole('checkbox', { name: 'Befund Müller.bin auswählen' }).check();
      await page.getByRole('checkbox', { name: 'Röntgen.bin auswählen' }).check();
      await page.getByText('2 ausgewählt').waitFor();
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Als ZIP herunterladen' }).click()]);
      const entries = unzip(fs.readFileSync(await download.path()));
      assert.deepEqual([...entries.keys()].sort(), ['Befund Müller.bin', 'Röntgen.bin']);
      const befund = await s.t.core.files.stat(s.t.system, '/acme/inbox/Befund Müller.bin');
      assert.equal(sha256(entries.get('Befund Müller.bin')!), befund.sha256);
      await page.getByRole('button', { name: 'Auswahl aufheben' }).click();
      await page.getByText('2 ausgewählt').waitFor({ state: 'detached' });
    });

    it('shows a refusal translated: no write permission, and an invalid name', async () => {
      await page.goto(`${s.base}/files?path=${encodeURIComponent('/acme/outbox')}`);
      await page.getByRole('heading', { name: 'outbox' }).waitFor();
      await page.getByTestId('file-input').setInputFiles([{ name: 'nope.txt', mimeType: 'text/plain', buffer: Buffer.from('x') }]);
      await page.locator('.upload-failed').getByText('Sie dürfen das hier nicht.').waitFor();
      await page.getByRole('button', { name: 'Abgeschlossene entfernen' }).click();

      await page.goto(`${s.base}/files?path=${encodeURIComponent('/acme/inbox')}`);
      await page.getByRole('heading', { name: 'inbox' }).waitFor();
      // Over the organisation's quota.
      await s.t.core.admin.orgs.update(s.t.system, 'acme', { quotaBytes: 1000 });
      await page.getByTestId('file-input').setInputFiles([{ name: 'gross.txt', mimeType: 'text/plain', buffer: Buffer.alloc(5000, 'x') }]);
      await page.locator('.upload-failed').getByText('Der Speicherplatz Ihrer Organisation ist voll', { exact: false }).waitFor();
      await s.t.core.admin.orgs.update(s.t.system, 'acme', { quotaBytes: null });
      // In read-only mode (lockdown) nothing is taken in.
      await s.t.core.lockdown.set(s.t.system, { mode: 'read-only', reason: 'test' });
      await new Promise((r) => setTimeout(r, 1100)); // the lockdown state is cached for a second
      await page.getByTestId('file-input').setInputFiles([{ name: 'gesperrt.txt', mimeType: 'text/plain', buffer: Buffer.from('x') }]);
      await page.locator('.upload-failed').getByText('Der Dienst ist derzeit von der Administration gesperrt.').waitFor();
      await s.t.core.lockdown.set(s.t.system, { mode: 'off' });
      await new Promise((r) => setTimeout(r, 1100));
      await page.getByRole('button', { name: 'Abgeschlossene entfernen' }).click();

      await page.getByRole('button', { name: 'Neuer Ordner' }).click();
      await page.getByRole('dialog').getByLabel('Name des Ordners').fill('..');
      await page.getByRole('dialog').getByRole('button', { name: 'Anlegen' }).click();
      await page.getByRole('dialog').getByRole('alert').getByText('Dieser Name ist nicht erlaubt', { exact: false }).waitFor();
      await page.keyboard.press('Escape');
      assert.equal(await page.getByRole('dialog').count(), 0);
    });

    it('creates, renames, moves and deletes, and filters and sorts the list', async () => {
      await page.getByRole('button', { name: 'Neuer Ordner' }).click();
      await page.getByRole('dialog').getByLabel('Name des Ordners').fill('Archiv 2026');
      await page.getByRole('dialog').getByRole('button', { name: 'Anlegen' }).click();
      await page.getByRole('row', { name: /Archiv 2026/ }).waitFor();

      await page.getByRole('button', { name: 'gruß.txt umbenennen' }).click();
      await page.getByRole('dialog').getByLabel('Neuer Name').fill('Grüße.txt');
      await page.getByRole('dialog').getByRole('button', { name: 'Umbenennen' }).click();
      await page.getByRole('row', { name: /Grüße\.txt/ }).waitFor();

      await page.getByRole('button', { name: 'Grüße.txt verschieben' }).click();
      await page.getByRole('dialog').getByLabel('In Ordner verschieben').fill('/acme/inbox/Archiv 2026');
      await page.getByRole('dialog').getByRole('button', { name: 'Verschieben' }).click();
      await page.getByRole('row', { name: /Grüße\.txt/ }).waitFor({ state: 'detached' });
      await s.t.core.files.stat(s.t.system, '/acme/inbox/Archiv 2026/Grüße.txt');

      // Filter by name; sort by size.
      await page.getByLabel('Nach Namen filtern').fill('befund');
      await page.getByText('1 von 3 Einträgen angezeigt').waitFor();
      await page.getByLabel('Nach Namen filtern').fill('');
      await page.getByRole('button', { name: 'Größe' }).click();
      assert.equal(await page.getByRole('columnheader', { name: 'Größe' }).getAttribute('aria-sort'), 'ascending');

      // A folder that is not empty cannot be deleted: said so.
      await page.getByRole('button', { name: 'Archiv 2026 löschen' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Löschen' }).click();
      await page.getByRole('dialog').getByText('Der Ordner ist nicht leer.', { exact: false }).waitFor();
      await page.getByRole('dialog').getByRole('button', { name: 'Abbrechen' }).click();
      // Into the folder (the tree and the list), delete the file, back, delete the folder.
      await page
        .getByRole('row', { name: /Archiv 2026/ })
        .getByRole('link', { name: 'Archiv 2026' })
        .click();
      await page.getByRole('heading', { name: 'Archiv 2026' }).waitFor();
      await page.getByRole('button', { name: 'Grüße.txt löschen' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Löschen' }).click();
      await page.getByText('Dieser Ordner ist leer.').waitFor();
      await page.getByRole('navigation', { name: 'Sie sind hier' }).getByRole('link', { name: 'inbox' }).click();
      await page.getByRole('button', { name: 'Archiv 2026 löschen' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Löschen' }).click();
      await page.getByRole('row', { name: /Archiv 2026/ }).waitFor({ state: 'detached' });
    });

    it('uploads a whole folder of 100 files in sub-folders, the tree as it was', async () => {
      const dir = tempDir('web-folder');
      try {
        const root = path.join(dir.path, 'Quartal 3');
        const want = new Map<string, string>();
        for (let i = 0; i < 100; i++) {
          const rel = path.join(i < 50 ? 'Juli' : 'August', `Abrechnung-${String(i).padStart(3, '0')}.csv`);
          const body = `Nr;Betrag\n${i};${(i * 12.5).toFixed(2)}\n`;
          fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
          fs.writeFileSync(path.join(root, rel), body);
          want.set(`/acme/inbox/Quartal 3/${rel.split(path.sep).join('/')}`, sha256(Buffer.from(body)));
        }
        await page.goto(`${s.base}/files?path=${encodeURIComponent('/acme/inbox')}`);
        await page.getByRole('heading', { name: 'inbox' }).waitFor();
        await page.getByTestId('folder-input').setInputFiles(root);
        await page.getByText('100 Dateien hochgeladen').waitFor({ timeout: 60_000 });
        await page.getByRole('row', { name: /Quartal 3/ }).waitFor();
        for (const [p, h] of want) assert.equal((await s.t.core.files.stat(s.t.system, p)).sha256, h, p);
        await page.getByRole('button', { name: 'Abgeschlossene entfernen' }).click();
      } finally {
        await dir.cleanup();
      }
    });

    it('signs staff in through the OpenID provider ("Sign in with your organisation")', async () => {
      const ctx = await browser.newContext({ locale: 'de-DE' });
      const w = await watch(ctx);
      const p = await ctx.newPage();
      await p.goto(`${s.base}/`);
      op.account = 'sub-ann';
      await p.getByRole('link', { name: 'Mit Ihrer Organisation anmelden' }).click();
      await p.getByRole('heading', { name: 'Alle Ordner' }).waitFor();
      await p.getByText('ann', { exact: true }).waitFor();
      assert.equal((await s.t.core.admin.users.get(s.t.system, 'ann')).role, 'staff');
      assert.deepEqual(w.violations, []);
      assert.deepEqual(w.errors, []);
      await ctx.close();
    });

    let secret = '';
    let recovery: string[] = [];
    it('enrols TOTP by reading the secret the app shows; sign-in then asks for a code', async () => {
      await page.getByRole('link', { name: 'Mein Konto' }).click();
      await page.getByRole('heading', { name: 'Mein Konto' }).waitFor();
      await shot(page, 'account');
      await noSeriousA11y(page, 'account');
      await page.getByRole('button', { name: 'Einrichten' }).click();
      await page.getByRole('img', { name: 'QR-Code für die Authenticator-App' }).waitFor();
      // The QR code is SVG elements, not an image URL.
      assert.equal(await page.locator('svg.qr path').count(), 1);
      assert.equal(await page.locator('img[src^="data:"], [style]:not([style=""])').count(), 0);
      secret = ((await page.getByTestId('totp-secret').textContent()) ?? '').trim();
      assert.match(secret, /^[A-Z2-7]+=*$/);
      await shot(page, 'totp-enrolment');
      await page.getByLabel('Code aus der App').fill(totp(secret, Date.now()));
      await page.getByRole('button', { name: 'Einschalten' }).click();
      const codes = page.getByTestId('recovery-codes').locator('code');
      await codes.first().waitFor();
      assert.equal(await codes.count(), 10);
      recovery = (await codes.allTextContents()).map((c) => c.trim());
      await page.getByRole('button', { name: 'Ich habe sie gespeichert' }).click();
      await page.getByTestId('mfa-state').getByText('An seit', { exact: false }).waitFor();

      await page.getByRole('button', { name: 'Abmelden', exact: true }).click();
      await page.getByText('Sie sind abgemeldet.').waitFor();
      await signIn(page, 'lena');
      await page.getByLabel('Bestätigungscode').waitFor();
      await shot(page, 'sign-in-code');
      await page.getByLabel('Bestätigungscode').fill(totp(secret, Date.now() + 30_000));
      await page.getByRole('button', { name: 'Bestätigen' }).click();
      await page.getByRole('heading', { name: 'Alle Ordner' }).waitFor();
    });

    it('registers a passkey and signs in with it, without a password (CDP virtual authenticator)', async () => {
      const cdp = await de.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport: 'internal',
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
          automaticPresenceSimulation: true,
        },
      });
      await page.getByRole('link', { name: 'Mein Konto' }).click();
      await page.getByLabel('Name des Passkeys').fill('Praxis-PC');
      await page.getByRole('button', { name: 'Passkey hinzufügen' }).click();
      await page.getByTestId('passkey-list').getByText('Praxis-PC').waitFor();
      assert.equal((await s.t.core.admin.passkeys.list(s.t.system, 'lena')).length, 1);

      await page.getByRole('button', { name: 'Abmelden', exact: true }).click();
      await page.getByRole('button', { name: 'Mit Passkey anmelden' }).click();
      await page.getByRole('heading', { name: 'Alle Ordner' }).waitFor();
      await cdp.detach();
    });

    it('lists my sessions, ends another one, and signs out everywhere', async () => {
      const other = await de.browser()!.newContext({ locale: 'de-DE' });
      const p2 = await other.newPage();
      await p2.goto(`${s.base}/`);
      await signIn(p2, 'lena');
      await p2.getByLabel('Bestätigungscode').fill(recovery[0]!); // a recovery code in place of the app's
      await p2.getByRole('button', { name: 'Bestätigen' }).click();
      await p2.getByRole('heading', { name: 'Alle Ordner' }).waitFor();

      await page.getByRole('link', { name: 'Mein Konto' }).click();
      const items = page.getByTestId('session-list').locator('li');
      await items.nth(1).waitFor();
      assert.equal(await items.count(), 2);
      await items
        .filter({ hasNot: page.getByText('dieser Browser') })
        .getByRole('button', { name: /^Sitzung .* beenden$/ })
        .click();
      await until('one session left', async () => (await items.count()) === 1);
      // The other browser is signed out at its next request.
      await p2.getByRole('link', { name: 'Mein Konto' }).click();
      await p2.getByText('Ihre Sitzung ist abgelaufen.', { exact: false }).waitFor();
      await other.close();

      await page.getByRole('button', { name: 'Überall abmelden' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Überall abmelden' }).click();
      await page.getByText('Sie sind abgemeldet.').waitFor();
      assert.equal((await s.t.core.admin.sessions.list(s.t.system, { login: 'lena' })).length, 0);
    });

    it('speaks English to an English browser and switches to German on request', async () => {
      const en = await browser.newContext({ locale: 'en-US' });
      const w = await watch(en);
      const p = await en.newPage();
      await p.goto(`${s.base}/`);
      await p.getByLabel('User name').waitFor();
      await p.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      await p.getByLabel('Language').selectOption('de');
      await p.getByLabel('Benutzername').waitFor();
      assert.equal(await p.locator('html').getAttribute('lang'), 'de');
      await p.reload();
      await p.getByLabel('Benutzername').waitFor();
      assert.deepEqual(w.violations, []);
      await en.close();
    });

    it('works at phone width', async () => {
      const phone = await browser.newContext({ locale: 'de-DE', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      const w = await watch(phone);
      const p = await phone.newPage();
      await p.goto(`${s.base}/files?path=${encodeURIComponent('/acme/inbox')}`);
      await p.getByRole('button', { name: 'Mit Passkey anmelden' }).waitFor();
      await signIn(p, 'lena');
      await p.getByLabel('Bestätigungscode').fill(recovery[1]!);
      await p.getByRole('button', { name: 'Bestätigen' }).click();
      // Back where the link pointed, after sign-in.
      await p.getByRole('heading', { name: 'inbox' }).waitFor();
      await p.getByRole('row', { name: /Befund Müller\.bin/ }).waitFor();
      const overflow = await p.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
      await shot(p, 'folder-view-phone');
      await noSeriousA11y(p, 'folder view at phone width');
      assert.deepEqual(w.violations, []);
      assert.deepEqual(w.errors, []);
      await phone.close();
    });

    it('reported no CSP violation and no page error during the whole run', () => {
      assert.deepEqual(seen.violations, []);
      assert.deepEqual(seen.errors, []);
    });
  });
}
