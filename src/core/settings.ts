/**
 * Settings types the core's dependencies carry (deps.ts), apart from the modules that use them so
 * that deps.ts depends on no operation module.
 */
import type { Role } from './principal.js';

export interface OidcSettings {
  /** Claim holding group or role names (string or array of strings). */
  readonly roleClaim: string;
  /** Claim value → role. */
  readonly roles: Readonly<Record<string, Role>>;
  readonly provision: boolean;
  readonly allowPartner: boolean;
  /** Organisation of provisioned staff users. */
  readonly org?: string | undefined;
}

export interface BudgetLimits {
  readonly files: number;
  readonly bytes: number;
}
export interface BudgetSettings {
  readonly windowMs: number;
  readonly user: BudgetLimits;
  readonly org: BudgetLimits;
  readonly global: BudgetLimits;
}
