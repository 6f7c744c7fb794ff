/**
 * One file to the server, resumable: tus 1.0 at /api/v1/uploads (tus-js-client), the target named
 * by the metadata `path` (the folder) and `filename`. The file appears in its folder only once
 * every byte arrived and was hashed, exactly like a PUT.
 *
 * Resuming: a dropped connection is retried from the server's offset; after a reload (or a
 * crash of the browser) the same file chosen again for the same folder continues where it
 * stopped — the upload's address is kept in localStorage under a fingerprint of folder, name,
 * size and modification time, and removed when the upload is complete. Cancelling terminates
 * the upload on the server (DELETE), which removes what it had received.
 */
import { DetailedError, Upload, type PreviousUpload } from 'tus-js-client';
import { ApiError, errorFrom } from '../../api/client';

export interface UploadOptions {
  readonly signal: AbortSignal;
  readonly onProgress: (sent: number) => void;
  /** Called when an earlier, interrupted upload of this file is continued. */
  readonly onResume?: () => void;
}

export const TUS_ENDPOINT = '/api/v1/uploads';
/** Delays before retrying after a network failure, a 5xx or a 409 (offset) answer. */
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000];

function apiError(e: unknown): unknown {
  if (e instanceof DetailedError && e.originalResponse) return errorFrom(e.originalResponse.getStatus(), e.originalResponse.getBody() ?? '');
  if (e instanceof DetailedError) return new ApiError(0, 'NETWORK', 'no answer from the server');
  return e;
}

export function uploadFile(folder: string, name: string, file: File, opts: UploadOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const upload = new Upload(file, {
      endpoint: TUS_ENDPOINT,
      metadata: { filename: name, path: folder },
      retryDelays: RETRY_DELAYS,
      // Created first, then sent: the upload's address is known (and kept) before the first
      // byte, so a reload during the first request can continue too.
      uploadDataDuringCreation: false,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      fingerprint: async (f: File) => ['sluice-tus', folder, name, f.size, f.lastModified].join('\u0000'),
      onProgress: (sent) => opts.onProgress(sent),
      onSuccess: () => resolve(),
      onError: (e) => reject(apiError(e)),
      // A refusal by the server (permission, quota, size, lockdown) is final; only a lost
      // connection, a busy server or a conflicting offset are worth another try.
      onShouldRetry: (e) => {
        const status = e instanceof DetailedError ? (e.originalResponse?.getStatus() ?? 0) : 0;
        return status === 0 || status === 409 || status >= 500;
      },
    });
    opts.signal.addEventListener(
      'abort',
      () => {
        upload.abort(true).catch(() => undefined);
        reject(new DOMException('cancelled', 'AbortError'));
      },
      { once: true },
    );
    upload
      .findPreviousUploads()
      .then((previous: PreviousUpload[]) => {
        const last = previous.sort((a, b) => Date.parse(b.creationTime) - Date.parse(a.creationTime))[0];
        if (last) {
          upload.resumeFromPreviousUpload(last);
          opts.onResume?.();
        }
        if (!opts.signal.aborted) upload.start();
      })
      .catch(() => {
        if (!opts.signal.aborted) upload.start();
      });
  });
}
