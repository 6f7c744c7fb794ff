/**
 * Two-factor sign-in with an authenticator app (TOTP): set up (QR code and the secret to type in,
 * then a first code), recovery codes (shown once), turn off (needs a current code).
 */
import { useEffect, useState } from 'preact/hooks';
import { del, get, post } from '../../api/client';
import type { MfaEnrolment, MfaStatus } from '../../api/types';
import { t } from '../../i18n';
import { errorText } from '../../i18n/errors';
import { formatDateTime } from '../../i18n/format';
import { notify } from '../../shell/notices';
import { QrCode } from './qr-code';

export function TwoFactor() {
  const [status, setStatus] = useState<MfaStatus | undefined>();
  const [enrolment, setEnrolment] = useState<MfaEnrolment | undefined>();
  const [codes, setCodes] = useState<readonly string[] | undefined>();
  const [code, setCode] = useState('');
  const [offCode, setOffCode] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const load = () =>
    get<MfaStatus>('/api/v1/me/mfa')
      .then(setStatus)
      .catch((e: unknown) => setError(errorText(e)));
  useEffect(() => void load(), []);

  async function step(f: () => Promise<void>) {
    setBusy(true);
    setError(undefined);
    try {
      await f();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  const start = () => step(async () => setEnrolment(await post<MfaEnrolment>('/api/v1/me/mfa')));
  const confirm = () =>
    step(async () => {
      setStatus(await post<MfaStatus>('/api/v1/me/mfa/confirm', { code: code.replace(/\s+/g, '') }));
      setEnrolment(undefined);
      setCode('');
      setCodes((await post<{ codes: string[] }>('/api/v1/me/mfa/recovery-codes')).codes);
      notify('info', t('mfa.enabled'));
    });
  const newCodes = () =>
    step(async () => {
      setCodes((await post<{ codes: string[] }>('/api/v1/me/mfa/recovery-codes')).codes);
      await load();
    });
  const turnOff = () =>
    step(async () => {
      setStatus(await del<MfaStatus>('/api/v1/me/mfa', { code: offCode.replace(/\s+/g, '') }));
      setOffCode('');
      setCodes(undefined);
      notify('info', t('mfa.disabled'));
    });

  return (
    <section class="card" aria-labelledby="mfa-title">
      <h2 id="mfa-title">{t('mfa.title')}</h2>
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      {status && !enrolment && !codes && (
        <p data-testid="mfa-state">
          {status.state === 'active' ? t('mfa.stateActive', { since: status.changedAt ? formatDateTime(status.changedAt) : '' }) : t('mfa.stateOff')}
          {status.state === 'active' && ` ${t('mfa.recoveryLeft', { n: status.recoveryCodes })}`}
        </p>
      )}

      {codes && (
        <div class="recovery">
          <p>
            <strong>{t('mfa.recoveryTitle')}</strong> {t('mfa.recoveryOnce')}
          </p>
          <ol class="recovery-codes" data-testid="recovery-codes">
            {codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ol>
          <button type="button" class="button-primary" onClick={() => setCodes(undefined)}>
            {t('mfa.recoverySaved')}
          </button>
        </div>
      )}

      {enrolment && (
        <form
          class="form enrol"
          onSubmit={(e) => {
            e.preventDefault();
            void confirm();
          }}
        >
          <p>{t('mfa.scan')}</p>
          <QrCode value={enrolment.uri} label={t('mfa.qrLabel')} />
          <p>
            {t('mfa.orType')}{' '}
            <code class="secret" data-testid="totp-secret">
              {enrolment.secret}
            </code>
          </p>
          <div class="field">
            <label for="mfa-code">{t('mfa.firstCode')}</label>
            <input
              id="mfa-code"
              inputMode="numeric"
              autocomplete="one-time-code"
              required
              maxLength={16}
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </div>
          <div class="actions">
            <button type="submit" class="button-primary" disabled={busy}>
              {t('mfa.confirm')}
            </button>
            <button type="button" class="button-quiet" onClick={() => setEnrolment(undefined)}>
              {t('common.cancel')}
            </button>
          </div>
        </form>
      )}

      {status && !enrolment && !codes && status.state !== 'active' && (
        <button type="button" class="button-primary" disabled={busy} onClick={() => void start()}>
          {t('mfa.setUp')}
        </button>
      )}

      {status?.state === 'active' && !codes && (
        <div class="mfa-manage">
          <button type="button" disabled={busy} onClick={() => void newCodes()}>
            {t('mfa.newRecovery')}
          </button>
          <form
            class="form form-inline"
            onSubmit={(e) => {
              e.preventDefault();
              void turnOff();
            }}
          >
            <div class="field">
              <label for="mfa-off-code">{t('mfa.offCode')}</label>
              <input
                id="mfa-off-code"
                inputMode="numeric"
                autocomplete="one-time-code"
                required
                maxLength={16}
                value={offCode}
                onInput={(e) => setOffCode(e.currentTarget.value)}
              />
            </div>
            <button type="submit" class="button-danger" disabled={busy}>
              {t('mfa.turnOff')}
            </button>
          </form>
        </div>
      )}
    </section>
  );
}
