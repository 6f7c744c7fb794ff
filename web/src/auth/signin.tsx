/**
 * Sign-in: login and password, then the second factor the server asks for (401 MFA_REQUIRED with
 * details.totp / details.passkey): the authenticator app's code (or a recovery code) or a passkey.
 * Besides: a passkey without a password, and "Sign in with your organisation" (OIDC) when the
 * server has it configured.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, post } from '../api/client';
import type { User } from '../api/types';
import { t } from '../i18n';
import { errorText } from '../i18n/errors';
import { signedIn } from '../shell/session';
import { isCeremonyCancelled, passkeySignIn, passkeysSupported } from './passkey';

type Step = 'password' | 'otp' | 'passkey';

export function SignIn(props: { notice?: 'expired' | 'signedOut' | 'refused' | undefined }) {
  const [step, setStep] = useState<Step>('password');
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [otp, setOtp] = useState('');
  const [both, setBoth] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [oidc, setOidc] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const otpField = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = `${t('signin.title')} – Sluice`;
    get<{ enabled: boolean }>('/api/v1/auth/oidc', { quiet401: true })
      .then((r) => setOidc(r.enabled))
      .catch(() => setOidc(false));
  }, []);
  useEffect(() => {
    if (step === 'otp') otpField.current?.focus();
  }, [step]);

  const refusal = (e: unknown) => {
    if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') return t('signin.failed');
    if (isCeremonyCancelled(e)) return t('signin.passkeyCancelled');
    return errorText(e);
  };

  async function run(f: () => Promise<User>) {
    setBusy(true);
    setError(undefined);
    try {
      signedIn(await f());
    } catch (e) {
      if (e instanceof ApiError && e.code === 'MFA_REQUIRED') {
        const totp = e.details.totp === true;
        const passkey = e.details.passkey === true;
        setBoth(totp && passkey);
        setStep(totp ? 'otp' : 'passkey');
      } else {
        setError(refusal(e));
        if (step === 'otp') setOtp('');
      }
    } finally {
      setBusy(false);
    }
  }

  const withPassword = (extra: { otp?: string } = {}) =>
    run(async () => (await post<{ user: User }>('/api/v1/auth/login', { login, password, ...extra }, { quiet401: true })).user);

  const back = () => {
    setStep('password');
    setOtp('');
    setError(undefined);
    setPassword('');
  };

  const notice =
    props.notice === 'expired'
      ? t('signin.expired')
      : props.notice === 'refused'
        ? t('signin.oidcRefused')
        : props.notice === 'signedOut'
          ? t('signin.signedOut')
          : undefined;

  return (
    <section class="signin card" aria-labelledby="signin-title">
      <h1 id="signin-title" ref={heading}>
        {t('signin.title')}
      </h1>
      {notice && (
        <p class={props.notice === 'signedOut' ? 'info-text' : 'error-text'} role="status">
          {notice}
        </p>
      )}
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}

      {step === 'password' && (
        <>
          <form
            class="form"
            onSubmit={(e) => {
              e.preventDefault();
              void withPassword();
            }}
          >
            <div class="field">
              <label for="signin-login">{t('signin.login')}</label>
              <input
                id="signin-login"
                name="username"
                autocomplete="username webauthn"
                autocapitalize="none"
                spellcheck={false}
                required
                value={login}
                onInput={(e) => setLogin(e.currentTarget.value)}
              />
            </div>
            <div class="field">
              <label for="signin-password">{t('signin.password')}</label>
              <input
                id="signin-password"
                name="password"
                type="password"
                autocomplete="current-password"
                required
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            </div>
            <button type="submit" class="button-primary" disabled={busy}>
              {t('signin.submit')}
            </button>
          </form>
          <div class="signin-alternatives">
            {passkeysSupported() && (
              <button type="button" disabled={busy} onClick={() => void run(() => passkeySignIn())}>
                {t('signin.withPasskey')}
              </button>
            )}
            {oidc && (
              <a class="button" href="/api/v1/auth/oidc/start">
                {t('signin.withOrganisation')}
              </a>
            )}
          </div>
        </>
      )}

      {step === 'otp' && (
        <form
          class="form"
          onSubmit={(e) => {
            e.preventDefault();
            void withPassword({ otp: otp.replace(/\s+/g, '') });
          }}
        >
          <p>{t('signin.otpHelp')}</p>
          <div class="field">
            <label for="signin-otp">{t('signin.otp')}</label>
            <input
              id="signin-otp"
              ref={otpField}
              name="otp"
              inputMode="numeric"
              autocomplete="one-time-code"
              required
              maxLength={16}
              value={otp}
              onInput={(e) => setOtp(e.currentTarget.value)}
              aria-describedby="signin-otp-hint"
            />
            <p id="signin-otp-hint" class="hint">
              {t('signin.otpRecoveryHint')}
            </p>
          </div>
          <div class="actions">
            <button type="submit" class="button-primary" disabled={busy}>
              {t('signin.verify')}
            </button>
            {both && (
              <button type="button" disabled={busy} onClick={() => void run(() => passkeySignIn({ login, password }))}>
                {t('signin.usePasskeyInstead')}
              </button>
            )}
            <button type="button" class="button-quiet" onClick={back}>
              {t('common.back')}
            </button>
          </div>
        </form>
      )}

      {step === 'passkey' && (
        <div class="form">
          <p>{t('signin.passkeyHelp')}</p>
          <div class="actions">
            <button type="button" class="button-primary" disabled={busy} onClick={() => void run(() => passkeySignIn({ login, password }))}>
              {t('signin.usePasskey')}
            </button>
            <button type="button" class="button-quiet" onClick={back}>
              {t('common.back')}
            </button>
          </div>
        </div>
      )}
    </section>
  );
}
