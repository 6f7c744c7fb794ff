/**
 * The ledger for the security officer: filters, newest events first in keyset pages (the API's
 * cursor), CSV/JSONL export of the whole selection, and the verification state (checkpoint and
 * its age, the chain since it, the last full verification, the sinks). All from the public API:
 * /api/v1/admin/ledger/{events,export,state}.
 */
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api/client';
import { t } from '../i18n';
import { errorText } from '../i18n/errors';
import { formatDateTime, formatNumber } from '../i18n/format';

interface LedgerEvent {
  seq: number;
  time: string;
  login: string | null;
  actorType: string;
  remoteAddr: string | null;
  protocol: string;
  action: string;
  path: string | null;
  outcome: string;
}
interface LedgerState {
  head: { seq: number };
  checkpoint: null | { seq: number; time: string; ageSeconds: number; signatureValid: boolean | null };
  tail: { events: number; chain: 'intact' | 'broken' | 'unchecked'; brokenAt?: number };
  lastVerification: null | { time: string; ok: boolean };
  sinks: { name: string; healthy: boolean }[];
}

const FIELDS = ['from', 'to', 'user', 'org', 'address', 'action', 'path'] as const;
type Filters = Partial<Record<(typeof FIELDS)[number] | 'protocol' | 'outcome', string>>;

function query(f: Filters): URLSearchParams {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) {
    if (!v) continue;
    q.set(k, k === 'from' || k === 'to' ? new Date(v).toISOString() : v);
  }
  return q;
}

function age(seconds: number): string {
  if (seconds < 120) return `${formatNumber(seconds)} s`;
  if (seconds < 7200) return `${formatNumber(Math.round(seconds / 60))} min`;
  return `${formatNumber(Math.round(seconds / 3600))} h`;
}

function StatePanel() {
  const [s, setS] = useState<LedgerState | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    get<LedgerState>('/api/v1/admin/ledger/state')
      .then(setS)
      .catch((e: unknown) => setError(errorText(e)));
  }, []);
  return (
    <section class="card" aria-labelledby="ledger-state-title" data-testid="ledger-state">
      <h2 id="ledger-state-title">{t('console.ledger.state.title')}</h2>
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      {s && (
        <ul class="item-list">
          <li>{t('console.ledger.state.head', { count: formatNumber(s.head.seq) })}</li>
          <li>
            {s.checkpoint
              ? t('console.ledger.state.checkpoint', { seq: s.checkpoint.seq, age: age(s.checkpoint.ageSeconds), time: formatDateTime(s.checkpoint.time) })
              : t('console.ledger.state.noCheckpoint')}
          </li>
          {s.checkpoint?.signatureValid === false && <li class="error-text">{t('console.ledger.state.signatureBad')}</li>}
          <li class={s.tail.chain === 'broken' ? 'error-text' : undefined}>
            {s.tail.chain === 'intact'
              ? t('console.ledger.state.tailIntact', { count: formatNumber(s.tail.events) })
              : s.tail.chain === 'broken'
                ? t('console.ledger.state.tailBroken', { seq: s.tail.brokenAt ?? '?' })
                : t('console.ledger.state.tailUnchecked', { count: formatNumber(s.tail.events) })}
          </li>
          <li>
            {s.lastVerification
              ? t('console.ledger.state.verified', {
                  time: formatDateTime(s.lastVerification.time),
                  result: t(s.lastVerification.ok ? 'console.ledger.state.verifiedOk' : 'console.ledger.state.verifiedFailed'),
                })
              : t('console.ledger.state.neverVerified')}
          </li>
          {s.sinks.map((k) => (
            <li key={k.name} class={k.healthy ? undefined : 'error-text'}>
              {t(k.healthy ? 'console.ledger.state.sinkOk' : 'console.ledger.state.sinkBad', { name: k.name })}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const OUTCOMES = ['success', 'failure', 'denied'] as const;
const PROTOCOLS = ['http', 'web', 'sftp', 'cli', 'system'] as const;
const outcomeKey: Record<string, string> = {
  success: 'console.ledger.outcome.success',
  failure: 'console.ledger.outcome.failure',
  denied: 'console.ledger.outcome.denied',
};
const label: Record<(typeof FIELDS)[number], string> = {
  from: 'console.ledger.from',
  to: 'console.ledger.to',
  user: 'console.ledger.user',
  org: 'console.ledger.org',
  address: 'console.ledger.address',
  action: 'console.ledger.action',
  path: 'console.ledger.path',
};

export default function LedgerScreen() {
  const [draft, setDraft] = useState<Filters>({});
  const [applied, setApplied] = useState<Filters>({});
  const [events, setEvents] = useState<LedgerEvent[] | undefined>();
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();

  const load = async (f: Filters, cursor?: string) => {
    setError(undefined);
    const q = query(f);
    q.set('limit', '50');
    if (cursor) q.set('cursor', cursor);
    try {
      const r = await get<{ events: LedgerEvent[]; next?: string }>(`/api/v1/admin/ledger/events?${q.toString()}`);
      setEvents((prev) => (cursor && prev ? [...prev, ...r.events] : r.events));
      setNext(r.next);
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => void load({}), []);

  const submit = (e: Event) => {
    e.preventDefault();
    setApplied(draft);
    void load(draft);
  };
  const set = (k: keyof Filters) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value });
  const exportHref = (format: 'csv' | 'jsonl') => {
    const q = query(applied);
    q.set('format', format);
    return `/api/v1/admin/ledger/export?${q.toString()}`;
  };

  return (
    <div class="screen">
      <h1>{t('console.ledger.title')}</h1>
      <StatePanel />
      <section class="card" aria-labelledby="ledger-filters-title">
        <h2 id="ledger-filters-title">{t('console.ledger.filters')}</h2>
        <form onSubmit={submit} data-testid="ledger-filters">
          {FIELDS.map((k) => (
            <div class="field field-inline" key={k}>
              <label for={`ledger-${k}`}>{t(label[k])}</label>
              <input id={`ledger-${k}`} type={k === 'from' || k === 'to' ? 'datetime-local' : 'text'} value={draft[k] ?? ''} onInput={set(k)} />
            </div>
          ))}
          <div class="field field-inline">
            <label for="ledger-protocol">{t('console.ledger.protocol')}</label>
            <select id="ledger-protocol" value={draft.protocol ?? ''} onChange={set('protocol')}>
              <option value="">{t('console.ledger.any')}</option>
              {PROTOCOLS.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </div>
          <div class="field field-inline">
            <label for="ledger-outcome">{t('console.ledger.outcome')}</label>
            <select id="ledger-outcome" value={draft.outcome ?? ''} onChange={set('outcome')}>
              <option value="">{t('console.ledger.any')}</option>
              {OUTCOMES.map((o) => (
                <option key={o} value={o}>
                  {t(outcomeKey[o] ?? o)}
                </option>
              ))}
            </select>
          </div>
          <button type="submit">{t('console.ledger.search')}</button>{' '}
          <a class="button-small" href={exportHref('csv')} download>
            {t('console.ledger.exportCsv')}
          </a>{' '}
          <a class="button-small" href={exportHref('jsonl')} download>
            {t('console.ledger.exportJsonl')}
          </a>
        </form>
      </section>
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      {events && events.length === 0 && <p>{t('console.ledger.none')}</p>}
      {events && events.length > 0 && (
        <div class="table-wrap">
          <table class="files-table" data-testid="ledger-table">
            <caption class="visually-hidden">{t('console.ledger.title')}</caption>
            <thead>
              <tr>
                {['seq', 'time', 'actor', 'address', 'protocol', 'action', 'path', 'outcome'].map((c) => (
                  <th key={c} scope="col">
                    {t(`console.ledger.col.${c}`)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.seq}>
                  <td>{e.seq}</td>
                  <td>{formatDateTime(e.time)}</td>
                  <td>{e.login ?? e.actorType}</td>
                  <td>{e.remoteAddr ?? '–'}</td>
                  <td>{e.protocol}</td>
                  <td>{e.action}</td>
                  <td>{e.path ?? '–'}</td>
                  <td>{t(outcomeKey[e.outcome] ?? e.outcome)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next && (
        <button type="button" onClick={() => void load(applied, next)}>
          {t('console.ledger.more')}
        </button>
      )}
    </div>
  );
}
