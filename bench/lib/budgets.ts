/**
 * Download budgets raised out of the way, as Sluice settings: a benchmark's thousands of downloads
 * by one user within the hour would (by design) trip them.
 */
const HUGE = '1000000000';
export const BUDGETS_OFF: Readonly<Record<string, string>> = Object.freeze({
  SLUICE_BUDGET_USER_FILES: HUGE,
  SLUICE_BUDGET_ORG_FILES: HUGE,
  SLUICE_BUDGET_GLOBAL_FILES: HUGE,
  SLUICE_BUDGET_USER_BYTES: '1000T',
  SLUICE_BUDGET_ORG_BYTES: '1000T',
  SLUICE_BUDGET_GLOBAL_BYTES: '1000T',
});
