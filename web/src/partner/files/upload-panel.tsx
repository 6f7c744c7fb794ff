/** Uploads in progress: a bar per file and one for all, cancel each or all, what failed and why. */
import { t, tn } from '../../i18n';
import { errorText } from '../../i18n/errors';
import { formatPercent, formatSize } from '../../i18n/format';
import { useStore } from '../../shell/store';
import { cancel, cancelAll, clearFinished, totals, uploads, type UploadItem } from './uploads';
import { join } from './paths';

export function UploadPanel() {
  const list = useStore(uploads);
  if (!list.length) return null;
  const sum = totals(list);
  const fraction = sum.size ? sum.sent / sum.size : sum.active ? 0 : 1;
  return (
    <section class="uploads card" aria-labelledby="uploads-title">
      <div class="uploads-head">
        <h2 id="uploads-title">{t('uploads.title')}</h2>
        <div class="actions">
          {sum.active > 0 && (
            <button type="button" class="button-small" onClick={cancelAll}>
              {t('uploads.cancelAll')}
            </button>
          )}
          {sum.active < list.length && (
            <button type="button" class="button-small button-quiet" onClick={clearFinished}>
              {t('uploads.clear')}
            </button>
          )}
        </div>
      </div>
      <div class="progress-line">
        <label for="uploads-overall">{t('uploads.overall')}</label>
        <progress id="uploads-overall" max={1} value={fraction} data-testid="upload-overall" />
        <span class="progress-text" aria-live="off">
          {formatPercent(fraction)} · {formatSize(sum.sent)} / {formatSize(sum.size)}
        </span>
      </div>
      <p class="hint" role="status">
        {sum.active > 0 ? tn('uploads.running', sum.active) : tn('uploads.finished', sum.done)}
        {sum.failed > 0 && ` · ${tn('uploads.failedCount', sum.failed)}`}
      </p>
      <ul class="upload-list">
        {list.map((u) => (
          <Item key={u.id} u={u} />
        ))}
      </ul>
    </section>
  );
}

function Item({ u }: { u: UploadItem }) {
  const id = `upload-${u.id}`;
  const fraction = u.size ? (u.state === 'done' ? 1 : u.sent / u.size) : u.state === 'done' ? 1 : 0;
  return (
    <li class={`upload upload-${u.state}`} data-state={u.state}>
      <label for={id} class="upload-name" title={join(u.target, u.relative)}>
        {u.relative}
      </label>
      <progress id={id} max={1} value={fraction} />
      <span class="upload-status">
        {u.state === 'uploading' && formatPercent(fraction)}
        {u.resumed && (u.state === 'uploading' || u.state === 'done') && ` · ${t('uploads.resumed')}`}
        {u.state !== 'uploading' && t(`uploads.state.${u.state}`)}
      </span>
      {(u.state === 'queued' || u.state === 'uploading') && (
        <button type="button" class="button-small" onClick={() => cancel(u.id)} aria-label={t('uploads.cancelName', { name: u.relative })}>
          {t('common.cancel')}
        </button>
      )}
      {u.state === 'failed' && <span class="error-text upload-error">{errorText(u.error)}</span>}
    </li>
  );
}
