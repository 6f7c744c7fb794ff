/**
 * Files: the folder tree, one folder's entries (sorted, filtered by name, in pages of the API's
 * cursor paging), and what can be done there: upload (pick or drop files and whole folders),
 * download, rename, move, delete, new folder, copy a file's sha256.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, del, fsUrl, get, post, query } from '../../api/client';
import type { Entry, ListPage, User } from '../../api/types';
import { t, tn } from '../../i18n';
import { errorText } from '../../i18n/errors';
import { formatDateTime, formatSize } from '../../i18n/format';
import { ConfirmDialog, PromptDialog } from '../../shell/dialog';
import { notify } from '../../shell/notices';
import { linkClick, useRoute } from '../../shell/router';
import { FolderTree, invalidateTree } from './folder-tree';
import { ancestors, baseName, folderHref, join, normalise } from './paths';
import { UploadPanel } from './upload-panel';
import { enqueue, filesOfDrop, filesOfInput, onUploadSettled } from './uploads';

export const PAGE_SIZE = 1000;

type SortKey = 'name' | 'size' | 'modified';
type Dialogs =
  | { kind: 'mkdir' }
  | { kind: 'rename'; entry: Entry }
  | { kind: 'move'; entry: Entry }
  | { kind: 'delete'; entry: Entry }
  | { kind: 'deleteMany'; entries: readonly Entry[] }
  | undefined;

export default function FilesScreen(_props: { user: User }) {
  const route = useRoute();
  const path = normalise(route.query.get('path'));
  const [page, setPage] = useState<ListPage | undefined>();
  const [error, setError] = useState<unknown>();
  const [cursors, setCursors] = useState<readonly (string | undefined)[]>([undefined]);
  const [version, setVersion] = useState(0);
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: 'name', dir: 1 });
  const [dialog, setDialog] = useState<Dialogs>();
  const [dragging, setDragging] = useState(false);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const cursor = cursors[cursors.length - 1];

  // A new folder starts at its first page.
  useEffect(() => {
    setCursors([undefined]);
    setFilter('');
  }, [path]);
  // A selection belongs to the page it was made on.
  useEffect(() => setSelected(new Set()), [path, cursor, version]);

  useEffect(() => {
    let live = true;
    setError(undefined);
    get<ListPage>(fsUrl(path, true) + query({ limit: PAGE_SIZE, cursor }))
      .then((p) => live && setPage(p))
      .catch((e: unknown) => {
        if (!live) return;
        setPage(undefined);
        setError(e);
      });
    return () => {
      live = false;
    };
  }, [path, cursor, version]);

  const reload = (treeToo = false) => {
    if (treeToo) invalidateTree();
    setVersion((v) => v + 1);
  };

  // Finished uploads into this folder (or below it) show up.
  useEffect(
    () =>
      onUploadSettled((u) => {
        if (u.state !== 'done') return;
        if (u.target === path) reload(u.relative.includes('/'));
        else if (ancestors(u.target).includes(path) || path === '/') reload(true);
      }),
    [path],
  );

  const entries = useMemo(() => {
    const f = filter.trim().toLocaleLowerCase();
    const list = (page?.entries ?? []).filter((e) => !f || e.name.toLocaleLowerCase().includes(f));
    const cmp = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
    return [...list].sort((a, b) => {
      if (a.type !== b.type) return a.type === 'folder' ? -1 : 1;
      const by = sort.key === 'name' ? cmp.compare(a.name, b.name) : sort.key === 'size' ? a.size - b.size : a.modified.localeCompare(b.modified);
      return (by || cmp.compare(a.name, b.name)) * sort.dir;
    });
  }, [page, filter, sort]);

  const upload = (pending: ReturnType<typeof filesOfInput>) => {
    if (pending.length) enqueue(path, pending);
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (!e.dataTransfer) return;
    filesOfDrop(e.dataTransfer)
      .then(upload)
      .catch((err: unknown) => notify('error', errorText(err)));
  };

  const sortButton = (key: SortKey, label: string) => {
    const active = sort.key === key;
    return (
      <th scope="col" aria-sort={active ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'} class={`col-${key}`}>
        <button type="button" class="sort-button" onClick={() => setSort({ key, dir: active ? (sort.dir === 1 ? -1 : 1) : 1 })}>
          {label}
          <span aria-hidden="true">{active ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}</span>
        </button>
      </th>
    );
  };

  const toggle = (name: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(name);
    else next.delete(name);
    setSelected(next);
  };
  const allShown = entries.length > 0 && entries.every((e) => selected.has(e.name));
  const chosen = (page?.entries ?? []).filter((e) => selected.has(e.name));

  const forbidden = error instanceof ApiError && (error.code === 'PERMISSION_DENIED' || error.code === 'NOT_FOUND');
  const pageNo = cursors.length;

  return (
    <div class="files-layout">
      <aside class="files-aside">
        <FolderTree current={path} version={version} />
      </aside>
      <section
        class={`files-main${dragging ? ' dropping' : ''}`}
        aria-labelledby="files-title"
        onDragOver={(e) => {
          e.preventDefault();
          if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
          setDragging(true);
        }}
        onDragLeave={(e) => {
          if (e.currentTarget === e.target) setDragging(false);
        }}
        onDrop={onDrop}
      >
        <Breadcrumbs path={path} />
        <h1 id="files-title">{path === '/' ? t('files.root') : baseName(path)}</h1>

        <div class="toolbar" role="toolbar" aria-label={t('files.actions')}>
          <button type="button" class="button-primary" onClick={() => fileInput.current?.click()}>
            {t('files.uploadFiles')}
          </button>
          <button type="button" onClick={() => folderInput.current?.click()}>
            {t('files.uploadFolder')}
          </button>
          <button type="button" onClick={() => setDialog({ kind: 'mkdir' })}>
            {t('files.newFolder')}
          </button>
          {path !== '/' && page && page.entries.length > 0 && (
            <a class="button" href={zipUrl([path])} download>
              {t('files.folderZip')}
            </a>
          )}
          <input
            ref={fileInput}
            type="file"
            multiple
            class="visually-hidden"
            tabIndex={-1}
            aria-hidden="true"
            data-testid="file-input"
            onChange={(e) => {
              upload(filesOfInput(e.currentTarget.files));
              e.currentTarget.value = '';
            }}
          />
          <input
            ref={folderInput}
            type="file"
            multiple
            {...{ webkitdirectory: true }}
            class="visually-hidden"
            tabIndex={-1}
            aria-hidden="true"
            data-testid="folder-input"
            onChange={(e) => {
              upload(filesOfInput(e.currentTarget.files));
              e.currentTarget.value = '';
            }}
          />
          <div class="field field-inline filter">
            <label for="files-filter">{t('files.filter')}</label>
            <input id="files-filter" type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
          </div>
        </div>
        <p class="hint drop-hint">{t('files.dropHint')}</p>

        <UploadPanel />

        {chosen.length > 0 && (
          <SelectionBar folder={path} chosen={chosen} clear={() => setSelected(new Set())} remove={() => setDialog({ kind: 'deleteMany', entries: chosen })} />
        )}

        {error !== undefined && (
          <p class="error-text" role="alert">
            {forbidden ? t('files.notVisible') : errorText(error)}
          </p>
        )}

        {page && (
          <>
            <p class="hint" aria-live="polite">
              {filter ? tn('files.shownOf', entries.length, { total: page.entries.length }) : tn('files.count', page.entries.length)}
              {(page.next !== undefined || pageNo > 1) && ` · ${t('files.pageNote', { page: pageNo })}`}
            </p>
            {entries.length === 0 ? (
              <p class="empty">{filter ? t('files.noMatch') : t('files.empty')}</p>
            ) : (
              <div class="table-wrap">
                <table class="files-table">
                  <caption class="visually-hidden">{t('files.tableCaption', { folder: path })}</caption>
                  <thead>
                    <tr>
                      <th scope="col" class="col-select">
                        <input
                          type="checkbox"
                          checked={allShown}
                          aria-label={t('files.selectAll')}
                          onChange={(ev) => setSelected(ev.currentTarget.checked ? new Set(entries.map((e) => e.name)) : new Set())}
                        />
                      </th>
                      {sortButton('name', t('files.name'))}
                      {sortButton('size', t('files.size'))}
                      {sortButton('modified', t('files.modified'))}
                      <th scope="col" class="col-sha">
                        {t('files.sha256')}
                      </th>
                      <th scope="col" class="col-actions">
                        <span class="visually-hidden">{t('files.actions')}</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {entries.map((e) => (
                      <Row key={e.name} entry={e} folder={path} open={setDialog} selected={selected.has(e.name)} toggle={toggle} />
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {(page.next !== undefined || pageNo > 1) && (
              <nav class="pager" aria-label={t('files.pages')}>
                <button type="button" disabled={pageNo <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
                  {t('files.previousPage')}
                </button>
                <span>{t('files.pageNo', { page: pageNo })}</span>
                <button type="button" disabled={page.next === undefined} onClick={() => page.next !== undefined && setCursors([...cursors, page.next])}>
                  {t('files.nextPage')}
                </button>
              </nav>
            )}
          </>
        )}
      </section>

      {dialog?.kind === 'mkdir' && (
        <PromptDialog
          title={t('files.newFolder')}
          label={t('files.folderName')}
          initial=""
          action={t('files.create')}
          errorText={errorText}
          onClose={() => setDialog(undefined)}
          submit={async (name) => {
            await post('/api/v1/fs-ops/mkdir', { path: join(path, name) });
            notify('info', t('files.created', { name }));
            reload(true);
          }}
        />
      )}
      {dialog?.kind === 'rename' && (
        <PromptDialog
          title={t('files.renameTitle', { name: dialog.entry.name })}
          label={t('files.newName')}
          initial={dialog.entry.name}
          action={t('files.rename')}
          errorText={errorText}
          onClose={() => setDialog(undefined)}
          submit={async (name) => {
            if (name === dialog.entry.name) return;
            await post('/api/v1/fs-ops/rename', { from: join(path, dialog.entry.name), to: join(path, name) });
            notify('info', t('files.renamed', { name }));
            reload(dialog.entry.type === 'folder');
          }}
        />
      )}
      {dialog?.kind === 'move' && (
        <PromptDialog
          title={t('files.moveTitle', { name: dialog.entry.name })}
          label={t('files.moveTo')}
          hint={t('files.moveHint')}
          initial={path}
          action={t('files.move')}
          errorText={errorText}
          onClose={() => setDialog(undefined)}
          submit={async (to) => {
            const target = normalise(to);
            if (target === path) return;
            await post('/api/v1/fs-ops/rename', { from: join(path, dialog.entry.name), to: join(target, dialog.entry.name) });
            notify('info', t('files.moved', { name: dialog.entry.name, folder: target }));
            reload(true);
          }}
        />
      )}
      {dialog?.kind === 'deleteMany' && (
        <ConfirmDialog
          title={tn('files.deleteManyTitle', dialog.entries.length)}
          text={t('files.deleteManyText')}
          action={t('files.delete')}
          danger
          errorText={errorText}
          onClose={() => setDialog(undefined)}
          confirm={async () => {
            const failed: string[] = [];
            let first: unknown;
            for (const e of dialog.entries) {
              try {
                await del(fsUrl(join(path, e.name), e.type === 'folder'));
              } catch (err) {
                failed.push(e.name);
                first ??= err;
              }
            }
            reload(dialog.entries.some((e) => e.type === 'folder'));
            const done = dialog.entries.length - failed.length;
            if (done) notify('info', tn('files.deletedMany', done));
            if (failed.length) notify('error', t('files.notDeleted', { names: failed.join(', '), reason: errorText(first) }));
          }}
        />
      )}
      {dialog?.kind === 'delete' && (
        <ConfirmDialog
          title={t('files.deleteTitle', { name: dialog.entry.name })}
          text={dialog.entry.type === 'folder' ? t('files.deleteFolderText') : t('files.deleteFileText')}
          action={t('files.delete')}
          danger
          errorText={errorText}
          onClose={() => setDialog(undefined)}
          confirm={async () => {
            await del(fsUrl(join(path, dialog.entry.name), dialog.entry.type === 'folder'));
            notify('info', t('files.deleted', { name: dialog.entry.name }));
            reload(dialog.entry.type === 'folder');
          }}
        />
      )}
    </div>
  );
}

/** Longest zip URL the app builds (the server's request line and headers have 16 KiB). */
const MAX_ZIP_URL = 8000;

/** GET /api/v1/fs-ops/zip with one `path` per file or folder: one zip stream, an attachment. */
export const zipUrl = (paths: readonly string[]): string => `/api/v1/fs-ops/zip?${paths.map((p) => `path=${encodeURIComponent(p)}`).join('&')}`;

function SelectionBar(props: { folder: string; chosen: readonly Entry[]; clear: () => void; remove: () => void }) {
  const href = zipUrl(props.chosen.map((e) => join(props.folder, e.name)));
  return (
    <div class="selection-bar" role="region" aria-label={t('files.selection')}>
      <span>{tn('files.selectedCount', props.chosen.length)}</span>
      {href.length <= MAX_ZIP_URL ? (
        <a class="button button-small" href={href} download>
          {t('files.zipSelected')}
        </a>
      ) : (
        <span class="hint">{t('files.zipTooMany')}</span>
      )}
      <button type="button" class="button-small button-danger-quiet" onClick={props.remove}>
        {t('files.deleteSelected')}
      </button>
      <button type="button" class="button-small button-quiet" onClick={props.clear}>
        {t('files.clearSelection')}
      </button>
    </div>
  );
}

function Breadcrumbs({ path }: { path: string }) {
  const parts = ancestors(path);
  return (
    <nav class="breadcrumbs" aria-label={t('files.breadcrumbs')}>
      <ol>
        <li>
          <a href={folderHref('/')} onClick={linkClick} aria-current={path === '/' ? 'page' : undefined}>
            {t('files.root')}
          </a>
        </li>
        {parts.map((p) => (
          <li key={p}>
            <a href={folderHref(p)} onClick={linkClick} aria-current={p === path ? 'page' : undefined}>
              {baseName(p)}
            </a>
          </li>
        ))}
      </ol>
    </nav>
  );
}

function Row(props: { entry: Entry; folder: string; open: (d: Dialogs) => void; selected: boolean; toggle: (name: string, on: boolean) => void }) {
  const { entry: e, folder, open } = props;
  const full = join(folder, e.name);
  return (
    <tr class={`entry entry-${e.type}${props.selected ? ' selected' : ''}`}>
      <td class="col-select">
        <input
          type="checkbox"
          checked={props.selected}
          aria-label={t('files.selectName', { name: e.name })}
          onChange={(ev) => props.toggle(e.name, ev.currentTarget.checked)}
        />
      </td>
      <th scope="row" class="col-name">
        {e.type === 'folder' ? (
          <a href={folderHref(full)} onClick={linkClick} class="entry-name">
            <span class="icon icon-folder" aria-hidden="true" />
            {e.name}
          </a>
        ) : (
          <a href={fsUrl(full)} download={e.name} class="entry-name" aria-label={t('files.downloadName', { name: e.name })}>
            <span class="icon icon-file" aria-hidden="true" />
            {e.name}
          </a>
        )}
      </th>
      <td class="col-size">{e.type === 'file' ? formatSize(e.size) : ''}</td>
      <td class="col-modified">
        <time dateTime={e.modified}>{formatDateTime(e.modified)}</time>
      </td>
      <td class="col-sha">{e.sha256 && <Sha256 value={e.sha256} name={e.name} />}</td>
      <td class="col-actions">
        <div class="row-actions">
          {e.type === 'file' && (
            <a class="button button-small" href={fsUrl(full)} download={e.name}>
              {t('files.download')}
            </a>
          )}
          <button type="button" class="button-small" onClick={() => open({ kind: 'rename', entry: e })} aria-label={t('files.renameName', { name: e.name })}>
            {t('files.rename')}
          </button>
          <button type="button" class="button-small" onClick={() => open({ kind: 'move', entry: e })} aria-label={t('files.moveName', { name: e.name })}>
            {t('files.move')}
          </button>
          <button
            type="button"
            class="button-small button-danger-quiet"
            onClick={() => open({ kind: 'delete', entry: e })}
            aria-label={t('files.deleteName', { name: e.name })}
          >
            {t('files.delete')}
          </button>
        </div>
      </td>
    </tr>
  );
}

function Sha256({ value, name }: { value: string; name: string }) {
  const copy = () =>
    navigator.clipboard
      .writeText(value)
      .then(() => notify('info', t('files.shaCopied', { name })))
      .catch(() => notify('error', t('files.copyFailed')));
  return (
    <span class="sha">
      <code class="sha-value" title={value}>
        {value}
      </code>
      <button type="button" class="button-small" onClick={copy} aria-label={t('files.copyShaName', { name })}>
        {t('files.copy')}
      </button>
    </span>
  );
}
