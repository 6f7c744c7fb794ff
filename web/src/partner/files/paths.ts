/** Virtual paths as the files screen uses them ('/' or '/a/b', never a trailing slash). */
export const join = (folder: string, name: string): string => (folder === '/' ? `/${name}` : `${folder}/${name}`);
export const parentOf = (path: string): string => {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
};
export const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
/** '/a/b' → ['/a', '/a/b']. */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  let at = '';
  for (const seg of path.split('/').filter(Boolean)) out.push((at = `${at}/${seg}`));
  return out;
}
export function normalise(p: string | null | undefined): string {
  const segs = (p ?? '/').split('/').filter(Boolean);
  return segs.length ? `/${segs.join('/')}` : '/';
}
/** The files screen's URL for a folder. */
export const folderHref = (path: string): string => (path === '/' ? '/files' : `/files?path=${encodeURIComponent(path)}`);
