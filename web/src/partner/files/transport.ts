/**
 * One file to the server: PUT /api/v1/fs/PATH with the file as the raw body (the REST API's
 * upload), through XMLHttpRequest for its upload progress events. Cancelling aborts the request;
 * the server then keeps nothing of it.
 */
import { ApiError, errorFrom, fsUrl } from '../../api/client';

export interface UploadResult {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export function uploadFile(path: string, file: File, opts: { signal: AbortSignal; onProgress: (sent: number) => void }): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', fsUrl(path));
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.onprogress = (e) => opts.onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status === 201) {
        try {
          resolve(JSON.parse(xhr.responseText) as UploadResult);
        } catch {
          reject(new ApiError(xhr.status, 'INTERNAL', 'unreadable answer'));
        }
      } else reject(errorFrom(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'no answer from the server'));
    xhr.onabort = () => reject(new DOMException('cancelled', 'AbortError'));
    opts.signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}
