/**
 * Messages to the user: a polite live region for what went well ("Uploaded"), an assertive one for
 * refusals. Screens call notify(); the shell renders the list once.
 */
import { store, useStore } from './store';
import { t } from '../i18n';

export interface Notice {
  readonly id: number;
  readonly kind: 'info' | 'error';
  readonly text: string;
}

const notices = store<readonly Notice[]>([]);
let next = 1;

export function notify(kind: Notice['kind'], text: string, ms = kind === 'error' ? 0 : 6000): void {
  const n = { id: next++, kind, text };
  notices.set([...notices.get().slice(-4), n]);
  if (ms > 0) setTimeout(() => dismiss(n.id), ms);
}

export const dismiss = (id: number) => notices.set(notices.get().filter((n) => n.id !== id));
export const clearNotices = () => notices.set([]);

export function Notices() {
  const list = useStore(notices);
  const render = (kind: Notice['kind']) =>
    list
      .filter((n) => n.kind === kind)
      .map((n) => (
        <div key={n.id} class={`notice notice-${n.kind}`}>
          <span class="notice-text">{n.text}</span>
          <button type="button" class="notice-close" onClick={() => dismiss(n.id)} aria-label={t('common.dismiss')}>
            ×
          </button>
        </div>
      ));
  return (
    <div class="notices">
      <div role="status" aria-live="polite">
        {render('info')}
      </div>
      <div role="alert" aria-live="assertive">
        {render('error')}
      </div>
    </div>
  );
}
