/**
 * The one table of actions: every file, account, administrative, authentication and defence
 * action the core performs or records, with
 *   - `needs`:    what the principal must hold (decided by access/decide.ts, nowhere else),
 *   - `on`:       for file actions, which folder the permission is looked up on,
 *   - `lockdown`: the lockdown rule it falls under (ops/lockdown.ts), or null (not locked down),
 *   - `ledger`:   the name recorded in the ledger (absent: the action's own name).
 *
 * Contract:
 * - The ledger's `action` field is typed by this table (`Action`) and appendEvent refuses any
 *   other value at run time: an event cannot be written under an unknown name.
 * - The gate (gate.ts) reads `needs` and `lockdown` from here; decide() denies an action that is
 *   not in the table.
 * - 'none' means the action is not a request a principal makes (a sign-in attempt, an alert, the
 *   end of a download): it is recorded, never gated.
 */
import type { Permission } from './access/permissions.js';

/** What an operation does, for the lockdown rules. */
export type OpKind = 'list' | 'read' | 'write' | 'modify';

/**
 * What a principal must hold:
 * - a Permission on a folder (file actions; `on` says which folder);
 * - 'visible': the folder may be seen (listing: what it shows is filtered);
 * - 'list-or-read': 'list' or 'read' on the containing folder (stat of a file);
 * - 'admin': an administrator or the local system principal;
 * - 'self-or-admin': one's own (tokens, passkeys, sessions of oneself), or an administrator's;
 * - 'web-session': a user signed in through a web session (self-service of second factors);
 * - 'user': any signed-in principal;
 * - 'system': the local system principal only (setup);
 * - 'none': recorded, never requested (see above).
 */
export type Need = Permission | 'visible' | 'list-or-read' | 'admin' | 'self-or-admin' | 'web-session' | 'user' | 'system' | 'none';

export type ActionClass = 'file' | 'account' | 'admin' | 'auth' | 'defence';

export interface ActionSpec {
  readonly class: ActionClass;
  readonly needs: Need;
  readonly on?: 'self' | 'parent';
  readonly lockdown: OpKind | null;
  readonly ledger?: string;
}

const file = <N extends Permission | 'visible' | 'list-or-read'>(needs: N, on: 'self' | 'parent', lockdown: OpKind) =>
  ({ class: 'file', needs, on, lockdown }) as const;
const admin = { class: 'admin', needs: 'admin', lockdown: null } as const;
const adminAs = <L extends string>(ledger: L) => ({ class: 'admin', needs: 'admin', lockdown: null, ledger }) as const;
const own = { class: 'account', needs: 'self-or-admin', lockdown: null } as const;
const webSession = { class: 'account', needs: 'web-session', lockdown: null } as const;
const signedIn = { class: 'account', needs: 'user', lockdown: null } as const;
const auth = { class: 'auth', needs: 'none', lockdown: null } as const;
const defence = { class: 'defence', needs: 'none', lockdown: null } as const;
const recorded = (c: ActionClass) => ({ class: c, needs: 'none', lockdown: null }) as const;

export const ACTIONS = {
  // Files and folders: the permission on the containing folder ('parent') or the folder itself.
  'folder.list': file('visible', 'self', 'list'),
  'folder.create': file('write', 'parent', 'write'),
  'folder.delete': file('delete', 'parent', 'modify'),
  /** Stat, first step: the path may be seen at all (a folder there is then shown)… */
  'entry.stat': { ...file('visible', 'self', 'list'), ledger: 'file.stat' },
  /** …and for a file, 'list' or 'read' on its folder. */
  'file.stat': file('list-or-read', 'parent', 'list'),
  'file.read': file('read', 'parent', 'read'),
  'file.write': file('write', 'parent', 'write'),
  'file.delete': file('delete', 'parent', 'modify'),
  'entry.rename-from': file('delete', 'parent', 'modify'),
  'entry.rename-to': file('write', 'parent', 'modify'),
  /** The end of a download (bytes handed out): recorded with the read it belongs to. */
  'file.read.end': recorded('file'),
  /** A rename that passed both checks (entry.rename-from, entry.rename-to) and then failed. */
  'entry.rename': recorded('file'),
  // Resumable (tus) uploads: creating, continuing (PATCH, HEAD) and ending one need what a PUT
  // needs; the finished file is recorded as file.write. An upload past its expiry is removed.
  'upload.create': file('write', 'parent', 'write'),
  'upload.append': file('write', 'parent', 'write'),
  'upload.terminate': file('write', 'parent', 'write'),
  'upload.expire': recorded('file'),

  // Authentication: attempts are recorded, not gated.
  'auth.login': auth,
  'auth.factor': auth,
  'auth.token': auth,
  'auth.logout': auth,
  'session.start': auth,
  'session.expire': auth,
  'oidc.link': auth,

  // One's own account (or, for administrators, anyone's).
  'account.me': signedIn,
  'token.create': own,
  'token.list': own,
  'token.revoke': own,
  'session.list': signedIn,
  'session.end': signedIn,
  'session.end-all': signedIn,
  'passkey.list': own,
  'passkey.remove': own,
  'passkey.rename': own,
  'passkey.register': webSession,
  'mfa.status': signedIn,
  'mfa.enrol': webSession,
  'mfa.confirm': webSession,
  'mfa.recovery': webSession,
  'mfa.disable': webSession,

  // Administration.
  'org.create': admin,
  'org.list': admin,
  'org.get': admin,
  'org.update': admin,
  'user.create': admin,
  'decoy.create': admin,
  'user.list': admin,
  'user.get': admin,
  'user.update': admin,
  'key.add': admin,
  'key.list': admin,
  'key.remove': admin,
  'grant.set': admin,
  'grant.revoke': admin,
  'grant.list': admin,
  'admin.passkey.list': adminAs('passkey.list'),
  'admin.passkey.remove': adminAs('passkey.remove'),
  /** Access explained (access/explain.ts): who can see a folder and through which grant; what a user can see. */
  'access.folder': admin,
  'access.user': admin,
  /** Which roles and organisations must sign in with a passkey (auth/passkey-policy.ts). */
  'policy.passkeys.get': admin,
  'policy.passkeys.set': admin,
  'admin.session.list': adminAs('session.list'),
  'admin.session.end': adminAs('session.end'),
  'admin.mfa.status': adminAs('mfa.status'),
  'admin.mfa.enrol': adminAs('mfa.enrol'),
  'admin.mfa.confirm': adminAs('mfa.confirm'),
  'admin.mfa.recovery': adminAs('mfa.recovery'),
  'admin.mfa.disable': adminAs('mfa.disable'),
  /** Folders made by administrators (with parents, an owning organisation): recorded as folder.create. */
  'admin.folder.create': adminAs('folder.create'),
  'admin.folder.list': adminAs('folder.list'),
  'audit.verify': admin,
  'audit.checkpoint': admin,
  'audit.query': admin,
  /** The console's ledger search, export and verification state (core/audit/search.ts, state.ts). */
  'audit.search': admin,
  'audit.export': admin,
  'audit.state': admin,
  'incident.scope': admin,
  'incident.notify': admin,
  'incident.report': admin,
  'backup.start': admin,
  'backup.create': admin,
  'backup.restore': admin,
  'verify.run': admin,
  'metrics.read': admin,
  'setup.init': { class: 'admin', needs: 'system', lockdown: null },

  // Defence: lockdown, budgets, canaries, alerts.
  'lockdown.status': admin,
  /** Setting the lockdown mode or a kill switch: recorded as lockdown.on/off, protocol.enable/disable. */
  'lockdown.set': admin,
  'protocol.set': admin,
  'lockdown.on': admin,
  'lockdown.off': admin,
  'protocol.enable': admin,
  'protocol.disable': admin,
  'budget.list': admin,
  'budget.lift': admin,
  'budget.trip': defence,
  'canary.mark': admin,
  'canary.list': admin,
  'canary.plant': admin,
  'alert.test': admin,
  alert: defence,
  /** A synthetic event (tests, benchmarks, drills): proves the ledger takes writes. */
  'ledger.probe': recorded('defence'),
} as const satisfies Record<string, ActionSpec>;

export type Action = keyof typeof ACTIONS;
/** The actions on files and folders that a principal requests (the ones with a folder permission). */
export type FileAction = { [K in Action]: (typeof ACTIONS)[K] extends { readonly on: 'self' | 'parent' } ? K : never }[Action];
/** The names the ledger records. */
export type LedgerName = { [K in Action]: (typeof ACTIONS)[K] extends { readonly ledger: infer L } ? L : K }[Action];

const TABLE: Readonly<Record<string, ActionSpec>> = ACTIONS;

export function isAction(a: unknown): a is Action {
  return typeof a === 'string' && Object.prototype.hasOwnProperty.call(TABLE, a);
}

export function isFileAction(a: unknown): a is FileAction {
  return isAction(a) && TABLE[a]!.on !== undefined;
}

/** The table's row for an action; throws for anything not in the table. */
export function specOf(a: Action): ActionSpec {
  if (!isAction(a)) throw new Error(`unknown action ${JSON.stringify(String(a).slice(0, 40))}`);
  return TABLE[a]!;
}

/** The name an action is recorded under in the ledger. */
export function ledgerName(a: Action): LedgerName {
  return (specOf(a).ledger ?? a) as LedgerName;
}

/** Which lockdown rule an action falls under (null: none). */
export function lockdownKindOf(a: Action): OpKind | null {
  return specOf(a).lockdown;
}
