/**
 * The folders the user may see, as a tree (the same tree as SFTP and GET /api/v1/fs/): each level
 * is loaded when it is opened. Disclosure buttons (aria-expanded) and plain links, so it works
 * with Tab and Enter like the rest of the page.
 */
import { useEffect, useState } from 'preact/hooks';
import { fsUrl, get, query } from '../../api/client';
import type { ListPage } from '../../api/types';
import { t } from '../../i18n';
import { linkClick } from '../../shell/router';
import { ancestors, folderHref, join } from './paths';

const cache = new Map<string, readonly string[]>();

async function subfolders(path: string): Promise<readonly string[]> {
  const hit = cache.get(path);
  if (hit) return hit;
  // Sub-folders come first in a listing, so the first page holds them (up to its size).
  const page = await get<ListPage>(fsUrl(path, true) + query({ limit: 1000 }));
  const names = page.entries.filter((e) => e.type === 'folder').map((e) => e.name);
  cache.set(path, names);
  return names;
}

/** Forget what is known of a folder's sub-folders (after mkdir, rename, delete, upload of a tree). */
export function invalidateTree(path?: string): void {
  if (path === undefined) cache.clear();
  else cache.delete(path);
}

export function FolderTree(props: { current: string; version: number }) {
  return (
    <nav class="folder-tree" aria-label={t('files.tree')}>
      <ul>
        <Node path="/" name={t('files.root')} current={props.current} version={props.version} depth={0} />
      </ul>
    </nav>
  );
}

function Node(props: { path: string; name: string; current: string; version: number; depth: number }) {
  const onWay = props.path === '/' || ancestors(props.current).includes(props.path);
  const [open, setOpen] = useState(onWay);
  const [children, setChildren] = useState<readonly string[] | undefined>();
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    if (onWay) setOpen(true);
  }, [props.current]);
  useEffect(() => {
    if (!open) return;
    let live = true;
    subfolders(props.path)
      .then((c) => live && (setChildren(c), setFailed(false)))
      .catch(() => live && setFailed(true));
    return () => {
      live = false;
    };
  }, [open, props.path, props.version]);

  const here = props.current === props.path;
  const empty = children !== undefined && children.length === 0;
  return (
    <li>
      <div class={`tree-row${here ? ' tree-here' : ''}`}>
        <button
          type="button"
          class="tree-toggle"
          aria-expanded={empty ? undefined : open}
          aria-label={open ? t('files.collapse', { name: props.name }) : t('files.expand', { name: props.name })}
          disabled={empty}
          onClick={() => setOpen(!open)}
        >
          <span aria-hidden="true">{empty ? '·' : open ? '▾' : '▸'}</span>
        </button>
        <a href={folderHref(props.path)} onClick={linkClick} aria-current={here ? 'page' : undefined}>
          {props.name}
        </a>
      </div>
      {open && failed && <p class="hint">{t('files.treeFailed')}</p>}
      {open && children && children.length > 0 && (
        <ul>
          {children.map((c) => (
            <Node key={c} path={join(props.path, c)} name={c} current={props.current} version={props.version} depth={props.depth + 1} />
          ))}
        </ul>
      )}
    </li>
  );
}
