/**
 * The shell: header (brand, navigation from the screen registry, language, account, sign out),
 * the current screen (lazily loaded), messages. Signed out, it shows the sign-in screen whatever
 * the URL says, and returns to that URL after sign-in.
 */
import type { ComponentChildren, ComponentType } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { currentLang, LANGS, onLangChange, setLang, t, type Lang } from '../i18n';
import { SignIn } from '../auth/signin';
import { homeFor, screenAt, screensFor, type ScreenDef, type ScreenProps } from './registry';
import { linkClick, navigate, useRoute } from './router';
import { loadSession, session, signOut } from './session';
import { Notices, clearNotices, notify } from './notices';
import { useStore } from './store';
import { errorText } from '../i18n/errors';
import type { User } from '../api/types';

export function App() {
  const [, setLangTick] = useState(0);
  useEffect(() => onLangChange(() => setLangTick((n) => n + 1)), []);
  const s = useStore(session);
  useEffect(() => {
    const q = new URLSearchParams(window.location.search);
    const refused = q.get('signin') === 'refused';
    if (refused) navigate('/', { replace: true });
    void loadSession(refused ? 'refused' : undefined);
  }, []);

  if (s.kind === 'loading') {
    return (
      <Frame>
        <p class="loading" aria-busy="true">
          {t('common.loading')}
        </p>
      </Frame>
    );
  }
  if (s.kind === 'signedOut') {
    return (
      <Frame>
        <SignIn notice={s.notice} />
      </Frame>
    );
  }
  return (
    <Frame user={s.user}>
      <Outlet user={s.user} />
    </Frame>
  );
}

function Frame(props: { user?: User; children: ComponentChildren }) {
  return (
    <>
      <a class="skip-link" href="#main">
        {t('shell.skip')}
      </a>
      <header class="app-header">
        <a class="brand" href="/" onClick={linkClick}>
          <span class="brand-mark" aria-hidden="true" />
          Sluice
        </a>
        {props.user && <Nav user={props.user} />}
        <div class="header-tools">
          <LangSwitch />
          {props.user && <Account user={props.user} />}
        </div>
      </header>
      <Notices />
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}

function Nav({ user }: { user: User }) {
  const route = useRoute();
  const items = screensFor(user).filter((s) => s.nav && s.nav.group !== 'account');
  const groups = ['main', 'console'] as const;
  return (
    <nav class="app-nav" aria-label={t('shell.nav')}>
      {groups.map((g) => {
        const list = items.filter((s) => s.nav?.group === g);
        if (!list.length) return null;
        return (
          <ul key={g} class={`nav-group nav-${g}`}>
            {list.map((s) => {
              const here = route.path === s.path || route.path.startsWith(`${s.path}/`);
              return (
                <li key={s.path}>
                  <a href={s.path} onClick={linkClick} aria-current={here ? 'page' : undefined}>
                    {t(s.title)}
                  </a>
                </li>
              );
            })}
          </ul>
        );
      })}
    </nav>
  );
}

function LangSwitch() {
  const names: Record<Lang, string> = { de: 'Deutsch', en: 'English' };
  return (
    <label class="lang-switch">
      <span class="visually-hidden">{t('shell.language')}</span>
      <select value={currentLang()} onChange={(e) => setLang((e.currentTarget as HTMLSelectElement).value as Lang)}>
        {LANGS.map((l) => (
          <option key={l} value={l} lang={l}>
            {names[l]}
          </option>
        ))}
      </select>
    </label>
  );
}

function Account({ user }: { user: User }) {
  const accountScreens = screensFor(user).filter((s) => s.nav?.group === 'account');
  return (
    <div class="account">
      <span class="account-name" title={user.org ?? undefined}>
        {user.login}
      </span>
      {accountScreens.map((s) => (
        <a key={s.path} href={s.path} onClick={linkClick} class="account-link">
          {t(s.title)}
        </a>
      ))}
      <button
        type="button"
        class="button-quiet"
        onClick={() => {
          clearNotices();
          signOut().catch((e) => notify('error', errorText(e)));
        }}
      >
        {t('shell.signOut')}
      </button>
    </div>
  );
}

const loaded = new Map<ScreenDef, ComponentType<ScreenProps>>();

function Outlet({ user }: { user: User }) {
  const route = useRoute();
  const screen = screenAt(route.path, user);
  const [, setTick] = useState(0);
  const [failed, setFailed] = useState<ScreenDef | undefined>();
  const mainMoved = useRef(false);

  useEffect(() => {
    if (!screen) {
      const home = homeFor(user);
      if (home !== route.path) navigate(home, { replace: true });
      return;
    }
    document.title = `${t(screen.title)} – Sluice`;
    if (!loaded.has(screen)) {
      screen
        .load()
        .then((m) => {
          loaded.set(screen, m.default);
          setTick((n) => n + 1);
        })
        .catch(() => setFailed(screen));
    }
    // After a navigation in the app, keyboard and screen-reader users continue at the new screen.
    if (mainMoved.current) document.getElementById('main')?.focus();
    mainMoved.current = true;
  }, [screen, route.path]);

  if (!screen) return null;
  if (failed === screen) return <p class="error-text">{t('shell.loadFailed')}</p>;
  const C = loaded.get(screen);
  if (!C)
    return (
      <p class="loading" aria-busy="true">
        {t('common.loading')}
      </p>
    );
  return <C user={user} />;
}
