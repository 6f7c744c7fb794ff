/** My live web sessions (this one marked): end one, or all of them (sign out everywhere). */
import { useEffect, useState } from 'preact/hooks';
import { del, get } from '../../api/client';
import type { SessionInfo } from '../../api/types';
import { t } from '../../i18n';
import { errorText } from '../../i18n/errors';
import { formatDateTime } from '../../i18n/format';
import { ConfirmDialog } from '../../shell/dialog';
import { signedOutHere, signOut } from '../../shell/session';
import { clientName } from './user-agent';

function describe(ua: string | null): string {
  if (!ua) return t('sessions.unknownClient');
  const { browser, system } = clientName(ua);
  if (browser && system) return t('sessions.browserOn', { browser, system });
  return browser ?? system ?? ua.slice(0, 60);
}

export function Sessions() {
  const [list, setList] = useState<readonly SessionInfo[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [everywhere, setEverywhere] = useState(false);

  const load = () =>
    get<{ sessions: SessionInfo[] }>('/api/v1/me/sessions')
      .then((r) => setList(r.sessions))
      .catch((e: unknown) => setError(errorText(e)));
  useEffect(() => void load(), []);

  const end = async (s: SessionInfo) => {
    setError(undefined);
    try {
      await del(`/api/v1/me/sessions/${encodeURIComponent(s.id)}`);
      if (s.current) signedOutHere();
      else await load();
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <section class="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">{t('sessions.title')}</h2>
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      {list && (
        <ul class="item-list" data-testid="session-list">
          {list.map((s) => (
            <li key={s.id} class="item">
              <div class="item-main">
                <strong title={s.client ?? undefined}>
                  {describe(s.client)}
                  {s.current && <span class="badge">{t('sessions.current')}</span>}
                </strong>
                <span class="hint">
                  {t('sessions.details', {
                    address: s.remoteAddr ?? '–',
                    since: formatDateTime(s.createdAt),
                    seen: formatDateTime(s.lastSeenAt),
                    until: formatDateTime(Math.min(s.expiresAt, s.idleExpiresAt)),
                  })}
                </span>
              </div>
              <button type="button" class="button-small" onClick={() => void end(s)} aria-label={t('sessions.endName', { client: describe(s.client) })}>
                {t('sessions.end')}
              </button>
            </li>
          ))}
        </ul>
      )}
      <button type="button" class="button-danger" onClick={() => setEverywhere(true)}>
        {t('sessions.everywhere')}
      </button>
      {everywhere && (
        <ConfirmDialog
          title={t('sessions.everywhere')}
          text={t('sessions.everywhereText')}
          action={t('sessions.everywhere')}
          danger
          errorText={errorText}
          onClose={() => setEverywhere(false)}
          confirm={() => signOut(true)}
        />
      )}
    </section>
  );
}
