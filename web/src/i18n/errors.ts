/**
 * API error codes as messages for people, in their language. The server's own English message is
 * never shown: it may be technical. Unknown codes fall back to a generic message with the code.
 */
import { ApiError } from '../api/client';
import { hasMessage, t } from './index';
import { formatSize } from './format';

export function errorText(e: unknown): string {
  if (!(e instanceof ApiError)) return t('error.generic');
  const key = `error.${e.code}`;
  if (e.code === 'TOO_LARGE' && typeof e.details.limit === 'number') return t('error.TOO_LARGE.limit', { limit: formatSize(e.details.limit) });
  if (e.code === 'MFA_REQUIRED') return t('error.MFA_REQUIRED');
  // Only a few server messages say which of several refusals it was (budget vs. rate limit).
  if (e.code === 'RATE_LIMITED' && /budget/i.test(e.message)) return t('error.BUDGET');
  if (e.code === 'LOCKED' && /switched off/i.test(e.message)) return t('error.LOCKED.switch');
  if (hasMessage(key)) return t(key);
  return t('error.unknown', { code: e.code });
}
