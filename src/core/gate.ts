/**
 * The gate: the one step every core operation passes before anything else. It
 *   1. checks that the principal was minted by core/auth in this process,
 *   2. parses the client path(s) (file actions; a rejected path is recorded as denied),
 *   3. applies the lockdown and the per-protocol kill switches (the action's lockdown kind),
 *   4. re-checks that the principal is still valid (auth/validity.ts: active, not expired, role
 *      and organisation unchanged, token/session/key not revoked; at most 1 s old),
 *   5. loads the principal's view (file actions) and decides (access/decide.ts, from the table of
 *      actions in actions.ts),
 *   6. records every denial in the ledger — NOT_FOUND for what the principal may not see,
 *      PERMISSION_DENIED for what it sees but may not do —
 * and hands the operation a Scope. Only this module can create one (the constructor demands a
 * key nothing outside holds; `isScope` checks at run time), so an operation that takes a Scope
 * cannot run without having passed the gate. Decisions an operation can only make after a
 * lookup (a stat that finds a file, a token's owner) go through the scope's methods, which are
 * the gate's too.
 */
import { CoreError } from './errors.js';
import { ACTIONS, lockdownKindOf, type Action, type FileAction } from './actions.js';
import { decide, decideAction, denialError, type ActionTarget } from './access/decide.js';
import { loadView, type AccessView } from './access/view.js';
import { invalidReason } from './auth/validity.js';
import { isMinted, type Principal } from './principal.js';
import { recordEvent } from './tx.js';
import { formatPath, isRoot, parentOf, parsePath, type VPath } from './paths.js';
import { keysOf } from './files/resolve.js';
import type { CoreDeps } from './deps.js';
import { lockdownOf, RUNNING_CHECK_MS } from './ops/lockdown.js';

const KEY: unique symbol = Symbol('the gate');
const issued = new WeakSet<object>();

/** What passed the gate: the principal and the action it was let through for. */
export class Scope<A extends Action = Action> {
  readonly principal: Principal;
  readonly action: A;
  protected readonly deps: CoreDeps;
  #checkedAt = Date.now();

  constructor(key: typeof KEY, deps: CoreDeps, principal: Principal, action: A) {
    if (key !== KEY) throw new Error('a scope is issued only by the gate');
    this.deps = deps;
    this.principal = principal;
    this.action = action;
    issued.add(this);
  }

  /**
   * After a lookup: the thing found belongs to `ownerId`. Passes for its owner and for
   * administrators; for anyone else the denial is recorded and NOT_FOUND thrown (`what`).
   */
  async owner(ownerId: string | null, what = 'not found'): Promise<void> {
    const d = decideAction(this.principal, this.action, { ownerId });
    if (d.allow) return;
    await deny(this.deps, this.principal, this.action, null, { reason: d.reason, why: d.why });
    throw new CoreError('NOT_FOUND', what);
  }

  /**
   * For an operation that keeps running (a transfer): throws once the principal is no longer
   * valid or the lockdown forbids the action. Cheap to call per chunk: it looks at most every
   * RUNNING_CHECK_MS (undefined when not due: nothing to wait for), and both answers it reads are
   * cached (at most 1 s old).
   */
  recheck(): Promise<void> | undefined {
    const now = Date.now();
    if (now - this.#checkedAt < RUNNING_CHECK_MS) return undefined;
    this.#checkedAt = now;
    return this.check();
  }

  /** The checks recheck() runs when due. */
  protected async check(): Promise<void> {
    const why = await invalidReason(this.deps, this.principal);
    if (why) throw invalidError();
    const kind = lockdownKindOf(this.action);
    if (kind) await lockdownOf(this.deps).check(this.principal, kind);
  }
}

/** A file action that passed the gate: the parsed path(s) and the view the decision used. */
export class FileScope extends Scope<FileAction> {
  readonly path: VPath;
  /** The second path of a two-path action (rename's destination). */
  readonly to: VPath | undefined;
  /** Loaded by this operation's gate (never one kept from an earlier operation). */
  readonly view: AccessView;
  #viewAt = Date.now();
  #view: AccessView;

  constructor(key: typeof KEY, deps: CoreDeps, principal: Principal, action: FileAction, path: VPath, to: VPath | undefined, view: AccessView) {
    super(key, deps, principal, action);
    this.path = path;
    this.to = to;
    this.view = view;
    this.#view = view;
  }

  /**
   * A further decision of this operation that depends on what it found (stat: a file, not a
   * folder). Same rules as the gate's own: decided by access/, denial recorded, NOT_FOUND or
   * PERMISSION_DENIED thrown.
   */
  async authorize(action: FileAction, target: VPath): Promise<void> {
    await decideFile(this.deps, this.principal, this.view, action, target);
  }

  /** Records a failure after the gate let the operation through, and returns the error to throw. */
  failed(action: Action, target: VPath, err: CoreError, extra: Record<string, unknown> = {}): Promise<CoreError> {
    return failed(this.deps, this.principal, action, target, err, extra);
  }

  /** As Scope's, and the grants still allow the action on the path (re-read at most once a second). */
  protected override async check(): Promise<void> {
    await super.check();
    const now = Date.now();
    if (now - this.#viewAt < 1000) return;
    this.#viewAt = now;
    this.#view = await loadView(this.deps.db, this.principal);
    const d = decide(this.principal, this.#view, this.action, keysOf(folderOf(this.action, this.path)));
    if (!d.allow) throw denialError(d);
  }
}

/** True only for scopes the gate issued in this process, optionally for one action. */
export function isScope(x: unknown, action?: Action): x is Scope {
  return typeof x === 'object' && x !== null && issued.has(x) && (action === undefined || (x as Scope).action === action);
}

/** MUST be the first statement of every core operation that takes a principal. */
export function assertPrincipal(p: Principal): void {
  if (!isMinted(p)) throw new CoreError('UNAUTHENTICATED', 'not authenticated');
}

const invalidError = () => new CoreError('UNAUTHENTICATED', 'invalid credentials');

async function deny(deps: CoreDeps, p: Principal, action: Action, targetPath: string | null, detail: Record<string, unknown>): Promise<void> {
  await recordEvent(deps.db, deps.clock, { action, outcome: 'denied', actor: p, targetPath, detail });
}

/** Steps 3 and 4: lockdown, then the principal still valid. */
async function stillAllowed(deps: CoreDeps, p: Principal, action: Action, targetPath: string | null): Promise<void> {
  const kind = lockdownKindOf(action);
  if (kind) {
    try {
      await lockdownOf(deps).check(p, kind);
    } catch (e) {
      await deny(deps, p, action, targetPath, { reason: 'lockdown' });
      throw e;
    }
  }
  const why = await invalidReason(deps, p);
  if (why) {
    await deny(deps, p, action, targetPath, { reason: 'principal no longer valid', why });
    throw invalidError();
  }
}

const DENIED: Readonly<Record<string, string>> = {
  'not an administrator': 'administrator rights required',
  'only the local system principal': 'only local setup may do this',
  'needs a web session': 'this can be changed only in a signed-in web session',
};

/**
 * The gate for every action that is not on a folder (administration, one's own account, setup).
 * `target`: the user the action concerns when the caller names one (one's own or, for
 * administrators, anyone's).
 */
export async function enter<A extends Action>(deps: CoreDeps, p: Principal, action: A, target: ActionTarget = {}): Promise<Scope<A>> {
  assertPrincipal(p);
  await stillAllowed(deps, p, action, null);
  const d = decideAction(p, action, target);
  if (!d.allow) {
    await deny(deps, p, action, null, { reason: d.reason, why: d.why });
    throw new CoreError('PERMISSION_DENIED', DENIED[d.why] ?? 'permission denied');
  }
  return new Scope(KEY, deps, p, action);
}

/** Where a file action may not name the root: the error, and the reason recorded. */
const AT_ROOT: Partial<
  Record<FileAction, { code: 'INVALID_PATH' | 'ALREADY_EXISTS' | 'PERMISSION_DENIED' | 'NOT_A_FILE'; message: string; reason: string; as?: FileAction }>
> = {
  'file.write': { code: 'INVALID_PATH', message: 'a file needs a name', reason: 'invalid path' },
  'upload.create': { code: 'INVALID_PATH', message: 'a file needs a name', reason: 'invalid path' },
  'file.read': { code: 'NOT_A_FILE', message: 'not a file', reason: 'root folder' },
  'folder.create': { code: 'ALREADY_EXISTS', message: 'the root folder always exists', reason: 'root folder' },
  'file.delete': { code: 'PERMISSION_DENIED', message: 'the root folder cannot be removed', reason: 'root folder', as: 'folder.delete' },
  'folder.delete': { code: 'PERMISSION_DENIED', message: 'the root folder cannot be removed', reason: 'root folder' },
  'entry.rename-from': { code: 'INVALID_PATH', message: 'the root folder cannot be renamed', reason: 'root folder' },
  'entry.rename-to': { code: 'INVALID_PATH', message: 'the root folder cannot be renamed', reason: 'root folder' },
};

/** The folder the table says a file action is decided on. */
function folderOf(action: FileAction, path: VPath): VPath {
  return ACTIONS[action].on === 'parent' && !isRoot(path) ? parentOf(path) : path;
}

async function decideFile(deps: CoreDeps, p: Principal, view: AccessView, action: FileAction, target: VPath): Promise<void> {
  const d = decide(p, view, action, keysOf(folderOf(action, target)));
  if (!d.allow) {
    await deny(deps, p, action, formatPath(target), { reason: d.reason });
    throw denialError(d);
  }
}

/**
 * The gate for a file action on a client path (and, for rename, a second path with its own
 * action). The stat of the root needs no decision: everyone may look at it.
 */
export async function enterPath(
  deps: CoreDeps,
  p: Principal,
  action: FileAction,
  raw: string,
  opts: { to?: { action: FileAction; raw: string }; resolveDots?: boolean } = {},
): Promise<FileScope> {
  assertPrincipal(p);
  const path = await parseFor(deps, p, action, raw, opts.resolveDots);
  const to = opts.to ? await parseFor(deps, p, opts.to.action, opts.to.raw, opts.resolveDots) : undefined;
  for (const [a, vp, r] of [[action, path, raw], ...(opts.to && to ? [[opts.to.action, to, opts.to.raw] as const] : [])] as const) {
    const root = isRoot(vp) ? AT_ROOT[a] : undefined;
    if (root) throw await refusedPath(deps, p, root.as ?? a, r, new CoreError(root.code, root.message), root.reason);
  }
  await stillAllowed(deps, p, action, formatPath(path));
  const view = await loadView(deps.db, p);
  if (!(action === 'entry.stat' && isRoot(path))) await decideFile(deps, p, view, action, path);
  if (opts.to && to) await decideFile(deps, p, view, opts.to.action, to);
  return new FileScope(KEY, deps, p, action, path, to, view);
}

/**
 * Parses a client path for `action`. A path the parser rejects is an attempt like any other: it
 * is recorded in the ledger as denied (reason 'invalid path', the raw input in printable form)
 * before the INVALID_PATH error is rethrown, so no attempt (traversal probes included) leaves the
 * ledger without a trace.
 */
async function parseFor(deps: CoreDeps, p: Principal, action: FileAction, raw: string, resolveDots?: boolean): Promise<VPath> {
  try {
    return parsePath(raw, resolveDots ? { resolveDots } : undefined);
  } catch (e) {
    if (e instanceof CoreError) throw await refusedPath(deps, p, action, raw, e);
    throw e;
  }
}

/**
 * Records an attempt refused for its path (by the parser, or by a front end that could not even
 * decode it) and returns the error to throw. The raw input is stored escaped (see printable):
 * a NUL or a lone surrogate would not survive PostgreSQL text, and the stored value must hash as
 * the ledger hashed it.
 */
export async function refusedPath(deps: CoreDeps, p: Principal, action: FileAction, raw: string, err: CoreError, reason = 'invalid path'): Promise<CoreError> {
  assertPrincipal(p);
  await deny(deps, p, action, printable(raw), { reason, code: err.code, message: err.message });
  return err;
}

const MAX_RAW = 512;
/**
 * A client-supplied string as it may be stored and shown: control characters (C0, DEL, C1) and
 * unpaired surrogates become \u{…} escapes, so neither a log line nor a CSV row can be forged
 * from it; longer than 512 characters is cut.
 */
export function printable(raw: string): string {
  const cut = raw.length > MAX_RAW ? raw.slice(0, MAX_RAW) : raw;
  const out = cut.replace(
    /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => `\\u{${c.charCodeAt(0).toString(16)}}`,
  );
  return cut === raw ? out : out + '…';
}

/** Records a failed operation (after the gate let it through) and returns the error to throw. */
export async function failed(
  deps: CoreDeps,
  p: Principal,
  action: Action,
  target: VPath,
  err: CoreError,
  extra: Record<string, unknown> = {},
): Promise<CoreError> {
  await recordEvent(deps.db, deps.clock, {
    action,
    outcome: 'failure',
    actor: p,
    targetPath: formatPath(target),
    detail: { code: err.code, ...extra },
  }).catch((e) => deps.log.error({ err: e }, 'could not record a failed operation'));
  return err;
}
