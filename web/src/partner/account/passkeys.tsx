/** My passkeys: add one (this device or a security key), rename, remove. */
import { useEffect, useState } from 'preact/hooks';
import { del, get, patch } from '../../api/client';
import type { PasskeyInfo } from '../../api/types';
import { t } from '../../i18n';
import { errorText } from '../../i18n/errors';
import { formatDateTime } from '../../i18n/format';
import { ConfirmDialog, PromptDialog } from '../../shell/dialog';
import { notify } from '../../shell/notices';
import { isCeremonyCancelled, passkeysSupported, registerPasskey } from '../../auth/passkey';

export function Passkeys() {
  const [list, setList] = useState<readonly PasskeyInfo[] | undefined>();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [dialog, setDialog] = useState<{ kind: 'rename' | 'remove'; key: PasskeyInfo } | undefined>();

  const load = () =>
    get<{ passkeys: PasskeyInfo[] }>('/api/v1/me/passkeys')
      .then((r) => setList(r.passkeys))
      .catch((e: unknown) => setError(errorText(e)));
  useEffect(() => void load(), []);

  const add = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const k = await registerPasskey(name.trim() || undefined);
      setName('');
      notify('info', t('passkeys.added', { name: k.name }));
      await load();
    } catch (e) {
      setError(isCeremonyCancelled(e) ? t('passkeys.cancelled') : errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="passkeys-title">
      <h2 id="passkeys-title">{t('passkeys.title')}</h2>
      <p class="hint">{t('passkeys.explain')}</p>
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      {list && list.length === 0 && <p>{t('passkeys.none')}</p>}
      {list && list.length > 0 && (
        <ul class="item-list" data-testid="passkey-list">
          {list.map((k) => (
            <li key={k.id} class="item">
              <div class="item-main">
                <strong>{k.name}</strong>
                <span class="hint">
                  {t('passkeys.created', { when: formatDateTime(k.createdAt) })}
                  {k.lastUsedAt !== null && ` · ${t('passkeys.lastUsed', { when: formatDateTime(k.lastUsedAt) })}`}
                  {k.backedUp && ` · ${t('passkeys.synced')}`}
                </span>
              </div>
              <div class="actions">
                <button
                  type="button"
                  class="button-small"
                  onClick={() => setDialog({ kind: 'rename', key: k })}
                  aria-label={t('passkeys.renameName', { name: k.name })}
                >
                  {t('passkeys.rename')}
                </button>
                <button
                  type="button"
                  class="button-small button-danger-quiet"
                  onClick={() => setDialog({ kind: 'remove', key: k })}
                  aria-label={t('passkeys.removeName', { name: k.name })}
                >
                  {t('passkeys.remove')}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {passkeysSupported() ? (
        <form
          class="form form-inline"
          onSubmit={(e) => {
            e.preventDefault();
            void add();
          }}
        >
          <div class="field">
            <label for="passkey-name">{t('passkeys.name')}</label>
            <input id="passkey-name" maxLength={100} value={name} placeholder={t('passkeys.namePlaceholder')} onInput={(e) => setName(e.currentTarget.value)} />
          </div>
          <button type="submit" class="button-primary" disabled={busy}>
            {t('passkeys.add')}
          </button>
        </form>
      ) : (
        <p class="hint">{t('passkeys.unsupported')}</p>
      )}

      {dialog?.kind === 'rename' && (
        <PromptDialog
          title={t('passkeys.renameName', { name: dialog.key.name })}
          label={t('passkeys.name')}
          initial={dialog.key.name}
          action={t('passkeys.rename')}
          errorText={errorText}
          onClose={() => setDialog(undefined)}
          submit={async (v) => {
            await patch(`/api/v1/me/passkeys/${encodeURIComponent(dialog.key.id)}`, { name: v });
            await load();
          }}
        />
      )}
      {dialog?.kind === 'remove' && (
        <ConfirmDialog
          title={t('passkeys.removeName', { name: dialog.key.name })}
          text={t('passkeys.removeText')}
          action={t('passkeys.remove')}
          danger
          errorText={errorText}
          onClose={() => setDialog(undefined)}
          confirm={async () => {
            await del(`/api/v1/me/passkeys/${encodeURIComponent(dialog.key.id)}`);
            await load();
          }}
        />
      )}
    </section>
  );
}
