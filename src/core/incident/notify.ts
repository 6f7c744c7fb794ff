/**
 * Telling people: one message per affected partner organisation from an incident scope, from
 * editable templates (German and English), sent over SMTP on request; and a GDPR Art. 33
 * notification skeleton filled from the scope and the measures recorded in the ledger.
 *
 * Templates are plain text with {{name}} placeholders, replaced by plain values — nothing in a
 * template or a value is evaluated. An unknown placeholder is an error, so a typo cannot reach a
 * partner. The first line is "Subject: …", then a blank line, then the body.
 */
import type { Scope } from '../gate.js';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CoreError } from '../errors.js';
import type { CoreDeps } from '../deps.js';
import { recordEvent } from '../tx.js';
import type { IncidentScope, OrgImpact } from './scope.js';

import { readerFormat, type Lang } from './locale.js';

export type { Lang } from './locale.js';

/** Files listed in one message at most; the rest are counted ("… and 12 more"). */
export const MAX_FILES_LISTED = 200;
/** Ledger events cited in one message at most. */
export const MAX_EVIDENCE_CITED = 50;

export const DEFAULT_TEMPLATES: Readonly<Record<Lang, string>> = {
  de: `Subject: Information über einen Sicherheitsvorfall – {{org}}

Sehr geehrte Damen und Herren,

wir informieren Sie über einen Sicherheitsvorfall in unserem Dateiaustausch. Im Zeitraum
{{from}} bis {{to}} ({{time_zone}}) wurde unbefugt auf Dateien zugegriffen, die Ihre Einrichtung{{ik_text}}
betreffen.

Betroffene Dateien ({{file_count}}, zusammen {{bytes}}):
{{files}}

Betroffene Personen (soweit bekannt): {{subjects}}
Datenkategorien: {{categories}}

Wir haben den Zugang gesperrt und die zuständigen Behörden informiert. Bitte wenden Sie sich bei
Fragen an uns. Diese Nachricht verweist auf die Protokolleinträge {{evidence}}.

Mit freundlichen Grüßen
{{sender}}
`,
  en: `Subject: Information about a security incident – {{org}}

Dear Sir or Madam,

we are informing you of a security incident in our file exchange. Between {{from}} and {{to}}
({{time_zone}}), files concerning your organisation{{ik_text}} were accessed without authorisation.

Affected files ({{file_count}}, {{bytes}} in total):
{{files}}

Data subjects (where known): {{subjects}}
Data categories: {{categories}}

We have blocked the access and informed the competent authorities. Please contact us with any
questions. This message refers to the ledger entries {{evidence}}.

Kind regards
{{sender}}
`,
};

/** Loads a template from the template directory, writing the default there first (to be edited). */
export function loadTemplate(dir: string | undefined, lang: Lang): string {
  if (!dir) return DEFAULT_TEMPLATES[lang];
  const file = path.join(dir, `notify.${lang}.txt`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, DEFAULT_TEMPLATES[lang], { mode: 0o600, flag: 'wx' });
  }
  return fs.readFileSync(file, 'utf8');
}

export function render(template: string, values: Readonly<Record<string, string>>): { subject: string; text: string } {
  const unknown = new Set<string>();
  const out = template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_m, k: string) => {
    if (!Object.prototype.hasOwnProperty.call(values, k)) {
      unknown.add(k);
      return '';
    }
    return values[k]!;
  });
  if (unknown.size) throw new CoreError('INVALID_INPUT', `template uses unknown placeholder(s): ${[...unknown].join(', ')}`);
  const m = /^Subject:[ \t]*(.*)\r?\n\r?\n([\s\S]*)$/.exec(out);
  if (!m) throw new CoreError('INVALID_INPUT', 'a template starts with "Subject: …", then a blank line, then the body');
  return { subject: m[1]!.replace(/[\r\n]+/g, ' ').trim(), text: m[2]! };
}

const readSchema = z.object({
  path: z.string(),
  orgId: z.string().nullable(),
  extent: z.string().optional(),
  bytes: z.number(),
  times: z.tuple([z.string(), z.string()]),
  by: z.array(z.string()).optional(),
  events: z.array(z.number()),
  canary: z.boolean().optional(),
});

/** The scope as read back from its JSON file: only what notification and the report need is checked. */
export const scopeFile = z
  .object({
    window: z.object({ from: z.string(), to: z.string() }),
    reads: z.array(readSchema),
    canaryReads: z.array(readSchema).optional(),
    organisations: z.array(
      z
        .object({
          orgId: z.string().nullable(),
          org: z.string().nullable(),
          ik: z.string().nullable(),
          contacts: z.array(z.object({ email: z.string() }).passthrough()),
          bytesRead: z.number(),
          dataSubjects: z.number(),
          dataCategories: z.array(z.string()),
          filesRead: z.number(),
        })
        .passthrough(),
    ),
  })
  .passthrough();

export interface Draft {
  readonly orgId: string | null;
  readonly org: string | null;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly lang: Lang;
  sent?: boolean;
  error?: string;
}

export async function notifyPartners(
  deps: CoreDeps,
  sc: Scope<'incident.notify'>,
  scopeIn: unknown,
  opts: { lang?: Lang; send?: boolean; sender?: string },
): Promise<{ drafts: Draft[]; withoutContact: string[] }> {
  const p = sc.principal;
  const r = scopeFile.safeParse(scopeIn);
  if (!r.success) throw new CoreError('INVALID_INPUT', 'the scope file is not the JSON output of "sluice incident scope"');
  const scope = r.data as unknown as IncidentScope;
  const lang = opts.lang ?? 'de';
  const fmt = readerFormat(lang, deps.settings.timeZone);
  const template = loadTemplate(deps.templateDir, lang);
  const drafts: Draft[] = [];
  const withoutContact: string[] = [];
  for (const o of scope.organisations as readonly OrgImpact[]) {
    if (!o.orgId || o.filesRead === 0) continue; // only partners whose data left
    // Canary files are traps, never partner data (a scope from before canaries were kept apart may still list them).
    const reads = scope.reads.filter((x) => x.orgId === o.orgId && x.canary !== true);
    if (reads.length === 0) continue;
    const to = o.contacts.map((c) => c.email);
    const extent = (x: { extent?: string }) =>
      x.extent === 'complete' ? (lang === 'de' ? 'vollständig' : 'complete') : lang === 'de' ? 'teilweise' : 'partial';
    const files = reads.slice(0, MAX_FILES_LISTED).map((x) => `  - ${x.path} (${extent(x)}, ${fmt.size(x.bytes)}, ${fmt.time(x.times[0])})`);
    if (reads.length > MAX_FILES_LISTED) files.push(`  ${fmt.cut(MAX_FILES_LISTED, reads.length)}`);
    const events = reads.flatMap((x) => x.events);
    const values = {
      org: o.org ?? '',
      ik: o.ik ?? '',
      ik_text: o.ik ? ` (IK ${o.ik})` : '',
      from: fmt.time(scope.window.from),
      to: fmt.time(scope.window.to),
      time_zone: fmt.timeZone,
      file_count: fmt.number(reads.length),
      bytes: fmt.size(reads.reduce((n, x) => n + x.bytes, 0)),
      files: files.join('\n'),
      subjects: o.dataSubjects ? fmt.number(o.dataSubjects) : lang === 'de' ? 'unbekannt' : 'unknown',
      categories: o.dataCategories.length ? o.dataCategories.join(', ') : lang === 'de' ? 'unbekannt' : 'unknown',
      evidence: events.slice(0, MAX_EVIDENCE_CITED).join(', ') + (events.length > MAX_EVIDENCE_CITED ? ` ${fmt.cut(MAX_EVIDENCE_CITED, events.length)}` : ''),
      sender: opts.sender ?? '',
    };
    const { subject, text } = render(template, values);
    if (to.length === 0) withoutContact.push(o.org ?? o.orgId);
    drafts.push({ orgId: o.orgId, org: o.org, to, subject, text, lang });
  }
  if (opts.send) {
    if (!deps.mailer) throw new CoreError('UNAVAILABLE', 'no SMTP server configured (SLUICE_SMTP_URL)');
    for (const d of drafts) {
      if (d.to.length === 0) continue;
      try {
        await deps.mailer.send({ to: d.to, subject: d.subject, text: d.text });
        d.sent = true;
      } catch (e) {
        d.sent = false;
        d.error = (e as Error).message;
      }
      await recordEvent(deps.db, deps.clock, {
        action: 'incident.notify',
        outcome: d.sent ? 'success' : 'failure',
        actor: p,
        orgId: d.orgId,
        detail: { to: d.to, subject: d.subject, ...(d.error ? { error: d.error } : {}) },
      });
    }
  }
  return { drafts, withoutContact };
}
