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

export type Lang = 'de' | 'en';

export const DEFAULT_TEMPLATES: Readonly<Record<Lang, string>> = {
  de: `Subject: Information über einen Sicherheitsvorfall – {{org}}

Sehr geehrte Damen und Herren,

wir informieren Sie über einen Sicherheitsvorfall in unserem Dateiaustausch. Im Zeitraum
{{from}} bis {{to}} wurde unbefugt auf Dateien zugegriffen, die Ihre Einrichtung{{ik_text}}
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

we are informing you of a security incident in our file exchange. Between {{from}} and {{to}},
files concerning your organisation{{ik_text}} were accessed without authorisation.

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

const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;

/** The scope as read back from its JSON file: only what notification needs is checked. */
const scopeFile = z
  .object({
    window: z.object({ from: z.string(), to: z.string() }),
    reads: z.array(
      z.object({
        path: z.string(),
        orgId: z.string().nullable(),
        extent: z.string().optional(),
        bytes: z.number(),
        times: z.tuple([z.string(), z.string()]),
        events: z.array(z.number()),
      }),
    ),
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
  const template = loadTemplate(deps.templateDir, lang);
  const drafts: Draft[] = [];
  const withoutContact: string[] = [];
  for (const o of scope.organisations as readonly OrgImpact[]) {
    if (!o.orgId || o.filesRead === 0) continue; // only partners whose data left
    const reads = scope.reads.filter((x) => x.orgId === o.orgId);
    const to = o.contacts.map((c) => c.email);
    const values = {
      org: o.org ?? '',
      ik: o.ik ?? '',
      ik_text: o.ik ? (lang === 'de' ? ` (IK ${o.ik})` : ` (IK ${o.ik})`) : '',
      from: scope.window.from,
      to: scope.window.to,
      file_count: String(reads.length),
      bytes: mib(o.bytesRead),
      files: reads
        .map(
          (x) =>
            `  - ${x.path} (${x.extent === 'complete' ? (lang === 'de' ? 'vollständig' : 'complete') : lang === 'de' ? 'teilweise' : 'partial'}, ${mib(x.bytes)}, ${x.times[0]})`,
        )
        .join('\n'),
      subjects: o.dataSubjects ? String(o.dataSubjects) : lang === 'de' ? 'unbekannt' : 'unknown',
      categories: o.dataCategories.length ? o.dataCategories.join(', ') : lang === 'de' ? 'unbekannt' : 'unknown',
      evidence: reads
        .flatMap((x) => x.events)
        .slice(0, 50)
        .join(', '),
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

/** Ledger actions that count as measures taken. */
const MEASURES = [
  'lockdown.on',
  'lockdown.off',
  'protocol.disable',
  'protocol.enable',
  'budget.trip',
  'budget.lift',
  'user.update',
  'token.revoke',
  'key.remove',
  'grant.revoke',
];

/** A GDPR Art. 33 notification skeleton (Markdown), filled from the scope and the ledger. */
export async function art33Report(deps: CoreDeps, sc: Scope<'incident.report'>, scopeIn: unknown): Promise<string> {
  const p = sc.principal;
  const r = scopeFile.safeParse(scopeIn);
  if (!r.success) throw new CoreError('INVALID_INPUT', 'the scope file is not the JSON output of "sluice incident scope"');
  const s = r.data as unknown as IncidentScope;
  const from = Date.parse(s.window.from);
  const measures = await deps.db
    .selectFrom('audit_events')
    .select(['seq', 'ts', 'action', 'actor_login', 'detail'])
    .where('ts', '>=', from)
    .where('action', 'in', MEASURES)
    .orderBy('seq')
    .limit(500)
    .execute();
  const orgs = s.organisations.filter((o) => o.filesRead > 0);
  const subjects = orgs.reduce((n, o) => n + o.dataSubjects, 0);
  const categories = [...new Set(orgs.flatMap((o) => o.dataCategories))].sort();
  const L: string[] = [];
  L.push('# Meldung einer Verletzung des Schutzes personenbezogener Daten (Art. 33 DSGVO)');
  L.push('# Notification of a personal data breach (GDPR Art. 33) — DRAFT');
  L.push('');
  L.push(
    `Generated ${new Date(deps.clock.now()).toISOString()} from the incident scope of ${s.generatedAt ?? '?'}. Fields marked TODO need the data protection officer.`,
  );
  L.push('');
  L.push('## 1. Controller and contact');
  L.push('- Controller (Verantwortlicher): TODO');
  L.push('- Data protection officer (Datenschutzbeauftragte/r): TODO');
  L.push('');
  L.push('## 2. Nature of the breach (Art der Verletzung)');
  L.push(
    `Unauthorised access to the managed file transfer service between ${s.window.from} and ${s.window.to}` +
      (s.filters
        ? `, scoped to: ${[...(s.filters.ips ?? []).map((x) => `address ${x}`), ...(s.filters.users ?? []).map((x) => `user ${x}`), ...(s.filters.orgs ?? []).map((x) => `organisation ${x}`), ...(s.filters.tokens ?? []).map((x) => `token ${x}`)].join(', ')}.`
        : '.'),
  );
  L.push(
    `Confidentiality: ${s.totals?.filesRead ?? s.reads.length} file(s) read (${mib(s.totals?.bytesRead ?? 0)}). Integrity: ${s.totals?.filesWritten ?? 0} file(s) written, ${s.totals?.filesDeleted ?? 0} deleted.`,
  );
  L.push('');
  L.push('## 3. Data subjects and records (Betroffene Personen und Datensätze)');
  L.push(`- Approximate number of data subjects: ${subjects || 'unknown (files without counts) — TODO'}`);
  L.push(
    `- Categories of personal data: ${categories.length ? categories.join(', ') : 'TODO'} (social data, Art. 9 GDPR health data where diagnoses are included)`,
  );
  L.push(`- Approximate number of records (files): ${s.reads.length}`);
  L.push(`- Affected partner organisations: ${orgs.length}`);
  L.push('');
  L.push('| organisation | IK | files read | of them complete | bytes | data subjects |');
  L.push('|---|---|---|---|---|---|');
  for (const o of orgs)
    L.push(
      `| ${(o.org ?? '-').replace(/\|/g, '/')} | ${o.ik ?? '-'} | ${o.filesRead} | ${o.filesReadCompletely ?? '?'} | ${o.bytesRead} | ${o.dataSubjects} |`,
    );
  L.push('');
  L.push('## 4. Time line (Zeitlicher Ablauf)');
  const times = s.reads.flatMap((x) => x.times).sort();
  L.push(`- First access in scope: ${times[0] ?? '-'}`);
  L.push(`- Last access in scope: ${times.at(-1) ?? '-'}`);
  L.push(`- Scope established: ${s.generatedAt ?? '-'}`);
  L.push('- Breach became known to the controller: TODO (the 72-hour period runs from here)');
  L.push('');
  L.push('## 5. Likely consequences (Wahrscheinliche Folgen)');
  L.push('TODO');
  L.push('');
  L.push('## 6. Measures taken (Ergriffene Maßnahmen), from the ledger');
  if (measures.length === 0) L.push('- none recorded since the start of the window — TODO');
  for (const m of measures) L.push(`- ${new Date(Number(m.ts)).toISOString()} ${m.action} by ${m.actor_login ?? 'system'} (ledger event ${m.seq})`);
  L.push('- Partners notified: see `sluice incident notify` (ledger action incident.notify)');
  L.push('');
  L.push('## 7. Evidence (Nachweis)');
  L.push(
    `Ledger events ${s.ledger?.firstSeq ?? '-'}–${s.ledger?.lastSeq ?? '-'}${s.ledger?.checkpoint ? `, covered by signed checkpoint ${s.ledger.checkpoint.seq} (hash ${s.ledger.checkpoint.hash}, key ${s.ledger.checkpoint.keyId})` : ''}. Verify with \`sluice audit verify\`.`,
  );
  await recordEvent(deps.db, deps.clock, { action: 'incident.report', outcome: 'success', actor: p, detail: { organisations: orgs.length, subjects } });
  return L.join('\n') + '\n';
}
