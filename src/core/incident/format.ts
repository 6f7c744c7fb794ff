/** Renders an incident scope for people (text) and for spreadsheets (CSV, injection-safe). */
import type { FileActivity, IncidentScope } from './scope.js';

const mb = (n: number) => (n / 1048576).toFixed(n >= 1048576 ? 1 : 3) + ' MiB';

export function scopeText(s: IncidentScope): string {
  const L: string[] = [];
  L.push(`INCIDENT SCOPE — generated ${s.generatedAt}`);
  L.push(`window ${s.window.from} .. ${s.window.to}`);
  const f = s.filters;
  L.push(
    `filters: ${[...f.ips.map((x) => `ip ${x}`), ...f.users.map((x) => `user ${x}`), ...f.orgs.map((x) => `org ${x}`), ...f.tokens.map((x) => `token ${x}`)].join(', ')}`,
  );
  L.push('');
  L.push(
    `SUMMARY: ${s.totals.filesRead} file(s) read (${mb(s.totals.bytesRead)}), ${s.totals.filesWritten} written, ${s.totals.filesDeleted} deleted; ${s.organisations.length} organisation(s) affected; data subjects (where files carry counts): ${s.totals.dataSubjects}; ${s.totals.events} ledger events`,
  );
  L.push('');
  L.push('ACTORS');
  for (const a of s.actors)
    L.push(
      `  ${a.login ?? '(anonymous)'}  from ${a.addresses.join(', ') || '-'}  events ${a.events}${a.failedLogins ? `, failed sign-ins ${a.failedLogins}` : ''}`,
    );
  L.push('');
  L.push('AFFECTED ORGANISATIONS');
  for (const o of s.organisations) {
    L.push(
      `  ${o.org ?? '(no organisation)'}${o.ik ? ` (IK ${o.ik})` : ''}: read ${o.filesRead} file(s) (${o.filesReadCompletely} completely), ${mb(o.bytesRead)}; written ${o.filesWritten}; deleted ${o.filesDeleted}; data subjects ${o.dataSubjects}${o.dataCategories.length ? `; categories ${o.dataCategories.join(', ')}` : ''}`,
    );
  }
  const section = (title: string, rows: readonly FileActivity[]) => {
    L.push('');
    L.push(`${title} (${rows.length})`);
    for (const r of rows) {
      L.push(
        `  ${r.path}${r.extent ? ` [${r.extent}]` : ''}  ${mb(r.bytes)}  ${r.times[0]}${r.times[1] !== r.times[0] ? ' .. ' + r.times[1] : ''}  by ${r.by.join(', ')} from ${r.addresses.join(', ')} via ${r.protocols.join(', ')}`,
      );
      L.push(
        `      org ${r.org ?? '-'}  file ${r.fileId ?? '-'}  sha256 ${r.sha256 ?? '-'}  subjects ${r.dataSubjects ?? 'unknown'}  ledger events ${r.events.join(', ')}`,
      );
    }
  };
  section('FILES READ', s.reads);
  section('CANARY FILES READ (traps, not partner data)', s.canaryReads ?? []);
  section('FILES WRITTEN', s.writes);
  section('FILES DELETED', s.deletes);
  L.push('');
  L.push('EVIDENCE');
  if (s.ledger.firstSeq === null) L.push('  no ledger events matched');
  else L.push(`  ledger events ${s.ledger.firstSeq} .. ${s.ledger.lastSeq}`);
  if (s.ledger.checkpoint) {
    const c = s.ledger.checkpoint;
    L.push(`  covered by signed checkpoint at event ${c.seq} (${c.time}), hash ${c.hash}, key ${c.keyId}`);
    L.push('  verify with: sluice audit verify');
  } else if (s.ledger.lastSeq !== null) L.push('  not yet covered by a signed checkpoint: run "sluice audit checkpoint" and "sluice audit verify"');
  return L.join('\n') + '\n';
}

/** CSV cell: quoted, and neutralised when a spreadsheet would read it as a formula. */
export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join(' ') : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

export function scopeCsv(s: IncidentScope): string {
  const head = [
    'activity',
    'path',
    'extent',
    'bytes',
    'first',
    'last',
    'organisation',
    'by',
    'addresses',
    'protocols',
    'file_id',
    'sha256',
    'data_subjects',
    'data_categories',
    'ledger_events',
  ];
  const rows = [head.map(csvCell).join(',')];
  const add = (kind: string, list: readonly FileActivity[]) => {
    for (const r of list)
      rows.push(
        [
          kind,
          r.path,
          r.extent ?? '',
          r.bytes,
          r.times[0],
          r.times[1],
          r.org ?? '',
          r.by,
          r.addresses,
          r.protocols,
          r.fileId ?? '',
          r.sha256 ?? '',
          r.dataSubjects ?? '',
          r.dataCategories,
          r.events,
        ]
          .map(csvCell)
          .join(','),
      );
  };
  add('read', s.reads);
  add('canary-read', s.canaryReads ?? []);
  add('write', s.writes);
  add('delete', s.deletes);
  return rows.join('\r\n') + '\r\n';
}
