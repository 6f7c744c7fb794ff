/**
 * Who the defences do not stop: administrators (and the local system) keep access during a
 * lockdown or with a protocol switched off, and their downloads are recorded but not budgeted, so
 * that they can investigate and end an incident. The one place this rule lives.
 */
import { isAdmin, type Principal, type Role } from '../principal.js';

/** Lockdown modes and protocol switches do not apply to this principal. */
export const exemptFromLockdown = (p: Principal): boolean => isAdmin(p);

/** The same, for a sign-in that has no principal yet (only the account's role is known). */
export const roleExemptFromLockdown = (role: string): boolean => (role as Role) === 'admin';

/** Download budgets do not count this principal's reads (they are still in the ledger). */
export const exemptFromBudgets = (p: Principal): boolean => isAdmin(p);
