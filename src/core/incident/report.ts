/**
 * The GDPR Art. 33 notification skeleton (Markdown), filled from an incident scope and the
 * measures recorded in the ledger, entirely in one language (German or English), times in the
 * configured time zone with the zone named. Canary files are traps: they appear as canaries,
 * never among the partner data that left. Lists that were cut say so.
 */
import { CoreError } from '../errors.js';
import type { CoreDeps } from '../deps.js';
import type { Scope } from '../gate.js';
import { recordEvent } from '../tx.js';
import { scopeFile } from './notify.js';
import type { IncidentScope } from './scope.js';
import { readerFormat, type Lang, type ReaderFormat } from './locale.js';

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
/** Measures listed at most (the list says when it was cut). */
export const MAX_MEASURES = 500;

interface Words {
  title: string;
  generated: (at: string, scopeAt: string) => string;
  zone: (z: string) => string;
  controller: string[];
  nature: string;
  breach: (from: string, to: string) => string;
  scopedTo: string;
  filter: { ip: string; user: string; org: string; token: string };
  cia: (read: string, bytes: string, written: string, deleted: string) => string;
  subjectsHead: string;
  subjects: (n: string) => string;
  subjectsUnknown: string;
  categories: (c: string) => string;
  records: (n: string) => string;
  partners: (n: string) => string;
  tableHead: string;
  canaries: string;
  canaryLine: (path: string, time: string, by: string) => string;
  canaryNone: string;
  timeline: string;
  first: (t: string) => string;
  last: (t: string) => string;
  established: (t: string) => string;
  known: string;
  consequences: string;
  measures: string;
  measureNone: string;
  measure: (t: string, action: string, by: string, seq: number) => string;
  notified: string;
  evidence: string;
  evidenceLine: (first: string, last: string, cp: string) => string;
  covered: (seq: number, hash: string, key: string) => string;
  system: string;
  todo: string;
}

const WORDS: Record<Lang, Words> = {
  en: {
    title: '# Notification of a personal data breach (GDPR Art. 33) — DRAFT',
    generated: (at, scopeAt) => `Generated ${at} from the incident scope of ${scopeAt}. Fields marked TODO need the data protection officer.`,
    zone: (z) => `All times in the time zone ${z}.`,
    controller: ['## 1. Controller and contact', '- Controller: TODO', '- Data protection officer: TODO'],
    nature: '## 2. Nature of the breach',
    breach: (from, to) => `Unauthorised access to the managed file transfer service between ${from} and ${to}`,
    scopedTo: 'scoped to',
    filter: { ip: 'address', user: 'user', org: 'organisation', token: 'token' },
    cia: (read, bytes, written, deleted) => `Confidentiality: ${read} file(s) read (${bytes}). Integrity: ${written} file(s) written, ${deleted} deleted.`,
    subjectsHead: '## 3. Data subjects and records',
    subjects: (n) => `- Approximate number of data subjects: ${n}`,
    subjectsUnknown: 'unknown (files without counts) — TODO',
    categories: (c) => `- Categories of personal data: ${c} (social data; Art. 9 GDPR health data where diagnoses are included)`,
    records: (n) => `- Approximate number of records (files): ${n}`,
    partners: (n) => `- Affected partner organisations: ${n}`,
    tableHead: '| organisation | IK | files read | of them complete | bytes | data subjects |',
    canaries: '### Canary files read (traps planted by the operator, no partner data)',
    canaryLine: (path, time, by) => `- ${path}, ${time}, by ${by}`,
    canaryNone: '- none',
    timeline: '## 4. Time line',
    first: (t) => `- First access in scope: ${t}`,
    last: (t) => `- Last access in scope: ${t}`,
    established: (t) => `- Scope established: ${t}`,
    known: '- Breach became known to the controller: TODO (the 72-hour period runs from here)',
    consequences: '## 5. Likely consequences',
    measures: '## 6. Measures taken, from the ledger',
    measureNone: '- none recorded since the start of the window — TODO',
    measure: (t, action, by, seq) => `- ${t} ${action} by ${by} (ledger event ${seq})`,
    notified: '- Partners notified: see the notification drafts (ledger action incident.notify)',
    evidence: '## 7. Evidence',
    evidenceLine: (first, last, cp) => `Ledger events ${first}–${last}${cp}. Verify with \`sluice audit verify\`.`,
    covered: (seq, hash, key) => `, covered by signed checkpoint ${seq} (hash ${hash}, key ${key})`,
    system: 'system',
    todo: 'TODO',
  },
  de: {
    title: '# Meldung einer Verletzung des Schutzes personenbezogener Daten (Art. 33 DSGVO) — ENTWURF',
    generated: (at, scopeAt) => `Erstellt am ${at} aus der Vorfallsanalyse vom ${scopeAt}. Mit TODO markierte Angaben ergänzt die/der Datenschutzbeauftragte.`,
    zone: (z) => `Alle Zeiten in der Zeitzone ${z}.`,
    controller: ['## 1. Verantwortlicher und Kontakt', '- Verantwortlicher: TODO', '- Datenschutzbeauftragte/r: TODO'],
    nature: '## 2. Art der Verletzung',
    breach: (from, to) => `Unbefugter Zugriff auf den Dateiaustausch im Zeitraum ${from} bis ${to}`,
    scopedTo: 'eingegrenzt auf',
    filter: { ip: 'Adresse', user: 'Benutzer', org: 'Organisation', token: 'Token' },
    cia: (read, bytes, written, deleted) =>
      `Vertraulichkeit: ${read} Datei(en) gelesen (${bytes}). Integrität: ${written} Datei(en) geschrieben, ${deleted} gelöscht.`,
    subjectsHead: '## 3. Betroffene Personen und Datensätze',
    subjects: (n) => `- Ungefähre Zahl der betroffenen Personen: ${n}`,
    subjectsUnknown: 'unbekannt (Dateien ohne Angaben) — TODO',
    categories: (c) => `- Kategorien personenbezogener Daten: ${c} (Sozialdaten; Gesundheitsdaten nach Art. 9 DSGVO, soweit Diagnosen enthalten sind)`,
    records: (n) => `- Ungefähre Zahl der Datensätze (Dateien): ${n}`,
    partners: (n) => `- Betroffene Partnerorganisationen: ${n}`,
    tableHead: '| Organisation | IK | Dateien gelesen | davon vollständig | Bytes | betroffene Personen |',
    canaries: '### Gelesene Köderdateien (vom Betreiber ausgelegte Fallen, keine Partnerdaten)',
    canaryLine: (path, time, by) => `- ${path}, ${time}, durch ${by}`,
    canaryNone: '- keine',
    timeline: '## 4. Zeitlicher Ablauf',
    first: (t) => `- Erster Zugriff im Analysezeitraum: ${t}`,
    last: (t) => `- Letzter Zugriff im Analysezeitraum: ${t}`,
    established: (t) => `- Umfang festgestellt: ${t}`,
    known: '- Verletzung dem Verantwortlichen bekannt geworden: TODO (ab hier läuft die 72-Stunden-Frist)',
    consequences: '## 5. Wahrscheinliche Folgen',
    measures: '## 6. Ergriffene Maßnahmen (laut Protokoll)',
    measureNone: '- seit Beginn des Zeitraums keine protokolliert — TODO',
    measure: (t, action, by, seq) => `- ${t} ${action} durch ${by} (Protokolleintrag ${seq})`,
    notified: '- Partner benachrichtigt: siehe die Benachrichtigungsentwürfe (Protokollaktion incident.notify)',
    evidence: '## 7. Nachweis',
    evidenceLine: (first, last, cp) => `Protokolleinträge ${first}–${last}${cp}. Prüfen mit \`sluice audit verify\`.`,
    covered: (seq, hash, key) => `, abgedeckt durch den signierten Prüfpunkt ${seq} (Hash ${hash}, Schlüssel ${key})`,
    system: 'System',
    todo: 'TODO',
  },
};

export async function art33Report(deps: CoreDeps, sc: Scope<'incident.report'>, scopeIn: unknown, opts: { lang?: Lang } = {}): Promise<string> {
  const p = sc.principal;
  const r = scopeFile.safeParse(scopeIn);
  if (!r.success) throw new CoreError('INVALID_INPUT', 'the scope file is not the JSON output of "sluice incident scope"');
  const s = r.data as unknown as IncidentScope;
  const lang = opts.lang ?? 'en';
  const fmt = readerFormat(lang, deps.settings.timeZone);
  const w = WORDS[lang];
  const from = Date.parse(s.window.from);
  const measures = await deps.db
    .selectFrom('audit_events')
    .select(['seq', 'ts', 'action', 'actor_login'])
    .where('ts', '>=', from)
    .where('action', 'in', MEASURES)
    .orderBy('seq')
    .limit(MAX_MEASURES + 1)
    .execute();
  const partnerReads = s.reads.filter((x) => x.canary !== true);
  const canaryReads = [...(s.canaryReads ?? []), ...s.reads.filter((x) => x.canary === true)];
  const orgs = s.organisations.filter((o) => o.filesRead > 0);
  const subjects = orgs.reduce((n, o) => n + o.dataSubjects, 0);
  const categories = [...new Set(orgs.flatMap((o) => o.dataCategories))].sort();
  const bytesRead = partnerReads.reduce((n, x) => n + x.bytes, 0);
  const L: string[] = [];
  L.push(w.title, '');
  L.push(w.generated(fmt.time(deps.clock.now()), s.generatedAt ? fmt.time(s.generatedAt) : '?'));
  L.push(w.zone(fmt.timeZone), '');
  L.push(...w.controller, '');
  L.push(w.nature);
  const f = s.filters;
  const named = f
    ? [
        ...(f.ips ?? []).map((x) => `${w.filter.ip} ${x}`),
        ...(f.users ?? []).map((x) => `${w.filter.user} ${x}`),
        ...(f.orgs ?? []).map((x) => `${w.filter.org} ${x}`),
        ...(f.tokens ?? []).map((x) => `${w.filter.token} ${x}`),
      ]
    : [];
  L.push(w.breach(fmt.time(s.window.from), fmt.time(s.window.to)) + (named.length ? `, ${w.scopedTo}: ${named.join(', ')}.` : '.'));
  L.push(w.cia(fmt.number(partnerReads.length), fmt.size(bytesRead), fmt.number(s.totals?.filesWritten ?? 0), fmt.number(s.totals?.filesDeleted ?? 0)), '');
  L.push(w.subjectsHead);
  L.push(w.subjects(subjects ? fmt.number(subjects) : w.subjectsUnknown));
  L.push(w.categories(categories.length ? categories.join(', ') : w.todo));
  L.push(w.records(fmt.number(partnerReads.length)));
  L.push(w.partners(fmt.number(orgs.length)), '');
  L.push(w.tableHead, '|---|---|---|---|---|---|');
  for (const o of orgs)
    L.push(
      `| ${(o.org ?? '-').replace(/\|/g, '/')} | ${o.ik ?? '-'} | ${o.filesRead} | ${o.filesReadCompletely ?? '?'} | ${o.bytesRead} | ${o.dataSubjects} |`,
    );
  L.push('', w.canaries);
  if (canaryReads.length === 0) L.push(w.canaryNone);
  for (const c of canaryReads.slice(0, 100)) L.push(w.canaryLine(c.path, fmt.time(c.times[0]), (c as { by?: readonly string[] }).by?.join(', ') || '?'));
  if (canaryReads.length > 100) L.push(fmt.cut(100, canaryReads.length));
  L.push('', w.timeline);
  const times = partnerReads.flatMap((x) => x.times).sort();
  L.push(w.first(times[0] ? fmt.time(times[0]) : '-'));
  L.push(w.last(times.at(-1) ? fmt.time(times.at(-1)!) : '-'));
  L.push(w.established(s.generatedAt ? fmt.time(s.generatedAt) : '-'));
  L.push(w.known, '');
  L.push(w.consequences, w.todo, '');
  L.push(w.measures);
  if (measures.length === 0) L.push(w.measureNone);
  for (const m of measures.slice(0, MAX_MEASURES)) L.push(w.measure(fmt.time(Number(m.ts)), m.action, m.actor_login ?? w.system, Number(m.seq)));
  if (measures.length > MAX_MEASURES) L.push(`- ${cutMeasures(fmt)}`);
  L.push(w.notified, '');
  L.push(w.evidence);
  const cp = s.ledger?.checkpoint;
  L.push(w.evidenceLine(String(s.ledger?.firstSeq ?? '-'), String(s.ledger?.lastSeq ?? '-'), cp ? w.covered(cp.seq, cp.hash, cp.keyId) : ''));
  await recordEvent(deps.db, deps.clock, {
    action: 'incident.report',
    outcome: 'success',
    actor: p,
    detail: { organisations: orgs.length, subjects, lang, canaryReads: canaryReads.length },
  });
  return L.join('\n') + '\n';
}

/** The measures list is cut at MAX_MEASURES; how many more there are is not counted (a query of its own). */
function cutMeasures(fmt: ReaderFormat): string {
  return fmt.lang === 'de'
    ? `… weitere Maßnahmen (Liste nach ${fmt.number(MAX_MEASURES)} Einträgen gekürzt; alle im Protokoll)`
    : `… more measures (list cut at ${fmt.number(MAX_MEASURES)} entries; all are in the ledger)`;
}
