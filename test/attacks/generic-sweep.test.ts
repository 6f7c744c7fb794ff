/**
 * Attack corpus §3, the generic hostile inputs, table-driven: every payload set (payloads.ts)
 * into every endpoint and field that takes input — the route inventory is the server's own
 * OpenAPI document, so a new route is swept without anyone listing it — and into every SFTP
 * operation that takes a path. As a partner (alice) nothing outside her grant may change; as an
 * administrator nothing may break (no 5xx, no internals, the fixture intact, the ledger verifies).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../helpers/dialects.js';
import { resolveClientPath } from '../../src/core/index.js';
import { FX, OPEN, str, T, u32, WRITE_NEW, type RawSftp, type Reply } from '../sftp/raw.js';
import { ALICE_FILE, attackTarget, pool, type Snapshot, type Target } from './harness.js';
import { ENCODED_TRAVERSAL, MALFORMED_URL, payloadSets, type PayloadSet } from './payloads.js';

/** The path SFTP resolves p to ('.', '..' and relative segments), or undefined when the parser refuses it. */
function resolvesTo(p: string): string | undefined {
  try {
    return resolveClientPath(p);
  } catch {
    return undefined;
  }
}

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly params: { readonly in: 'path' | 'query' | 'header'; readonly name: string }[];
  readonly body: readonly string[];
}

/** Fields whose value is a client path in the folder tree. */
const PATH_FIELDS = new Set(['path', 'from', 'to']);
/** Endpoints left out of the sweep: they take no hostile input and end the caller's own sessions. */
const SKIP = new Set(['POST /api/v1/auth/logout', 'POST /api/v1/auth/logout-everywhere']);

async function inventory(x: Target): Promise<Operation[]> {
  const doc = JSON.parse((await x.http('GET', '/api/openapi.json')).text) as {
    paths: Record<
      string,
      Record<string, { parameters?: { in: string; name: string }[]; requestBody?: { content?: Record<string, { schema?: { properties?: object } }> } }>
    >;
  };
  const ops: Operation[] = [];
  for (const [p, methods] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(methods)) {
      const method = m.toUpperCase();
      if (method === 'HEAD' || SKIP.has(`${method} ${p}`)) continue;
      const params = (op.parameters ?? []).filter((q) => q.in === 'path' || q.in === 'query' || q.in === 'header') as Operation['params'];
      const body = Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {});
      if (params.length || body.length) ops.push({ method, path: p, params, body });
    }
  }
  return ops;
}

/** One URL segment percent-encoded as a client would (a lone surrogate as its would-be UTF-8 bytes). */
const encodeSegment = (seg: string) => {
  try {
    return encodeURIComponent(seg);
  } catch {
    return encodeURIComponent(seg.replace(/[\ud800-\udfff]/g, '')) + '%ED%A0%80';
  }
};
/** A client path percent-encoded segment by segment ('/' stays a separator). */
const encodePath = (s: string) => s.split('/').map(encodeSegment).join('/');

const DEFAULTS: Record<string, unknown> = {
  path: '/acme/inbox/sweep-default',
  from: '/acme/inbox/no-such-source',
  to: '/acme/inbox/sweep-to',
  login: 'nobody-here',
  ref: 'No Such Org',
  id: 'no-such-id',
  name: 'sweep',
  subject: 'nobody-here',
  permissions: 'list',
  password: 'not the password',
  code: '000000',
  org: 'Acme',
  publicKey: 'ssh-ed25519 AAAA',
  mode: 'normal',
  scope: 'global',
};

/** One request of the sweep: `field` of `op` set to `value`, everything else a harmless default. */
function requestFor(op: Operation, field: { in: 'path' | 'query' | 'header' | 'body'; name: string }, value: string) {
  let url = op.path;
  for (const p of op.params.filter((q) => q.in === 'path')) {
    const target = field.in === 'path' && p.name === field.name;
    const v = target
      ? p.name === 'path'
        ? `acme/inbox/${value}`
        : value
      : p.name === 'path'
        ? 'acme/inbox/sweep-default.txt'
        : String(DEFAULTS[p.name] ?? 'x');
    url = url.replace(`{${p.name}}`, p.name === 'path' ? encodePath(v) : encodeSegment(v));
  }
  const query = field.in === 'query' ? `?${field.name}=${encodeSegment(field.name === 'path' ? `/acme/inbox/${value}` : value)}` : '';
  const headers: Record<string, string> = {};
  if (field.in === 'header') headers[field.name] = value;
  let body: string | undefined;
  if (op.body.length) {
    const b: Record<string, unknown> = {};
    // No password for accounts the sweep creates: argon2 would dominate its time.
    for (const f of op.body) if (f in DEFAULTS && !(f === 'password' && op.path.startsWith('/api/v1/admin/'))) b[f] = DEFAULTS[f];
    if (field.in === 'body') b[field.name] = PATH_FIELDS.has(field.name) ? `/acme/inbox/${value}` : value;
    body = JSON.stringify(b);
    headers['content-type'] = 'application/json';
  } else if (op.method === 'PUT' || op.method === 'POST') {
    body = 'x';
  }
  return { url: url + query, headers, body };
}

const isPathField = (op: Operation, f: { in: string; name: string }) => PATH_FIELDS.has(f.name) && (f.in !== 'path' || op.path.startsWith('/api/v1/fs/'));

for (const dialect of DIALECTS) {
  describe(`attacks: generic hostile inputs, table-driven (${dialect})`, () => {
    let x: Target;
    let sets: PayloadSet[];
    let ops: Operation[];
    before(async () => {
      // Alice's thousands of reads must not trip her download budget (ops/budgets.ts) mid-sweep.
      x = await attackTarget(dialect, {
        env: { SLUICE_BUDGET_USER_FILES: '1000000', SLUICE_BUDGET_ORG_FILES: '1000000', SLUICE_BUDGET_GLOBAL_FILES: '1000000' },
      });
      sets = payloadSets(x.egress.url, x.outsideFile);
      ops = await inventory(x);
    });
    after(() => x?.close());

    /** Only alice's own tree and tokens may differ from `before`. */
    async function onlyAliceChanged(before: Snapshot, what: string) {
      const after = await x.snapshot();
      for (const table of ['users', 'grants', 'ssh_keys', 'settings', 'canaries', 'passkeys']) {
        assert.deepEqual(after.rows[table], before.rows[table], `${what}: ${table} changed`);
      }
      // Organisations: only Acme's usage counter may move (alice's own uploads).
      const orgs = (s: Snapshot) => (s.rows.orgs as Record<string, unknown>[]).map(({ used_bytes: _u, ...o }) => o);
      assert.deepEqual(orgs(after), orgs(before), `${what}: orgs changed`);
      const aliceId = (before.rows.users as { id: string; login: string }[]).find((u) => u.login === 'alice')!.id;
      const oldTokens = new Set((before.rows.tokens as { id: string }[]).map((t) => t.id));
      for (const t of after.rows.tokens as { id: string; user_id: string }[])
        if (!oldTokens.has(t.id)) assert.equal(t.user_id, aliceId, `${what}: a token for someone else`);
      const folders = new Map((after.rows.folders as { id: string; path: string }[]).map((f) => [f.id, f.path]));
      const oldFolders = new Set((before.rows.folders as { id: string }[]).map((f) => f.id));
      for (const [id, p] of folders) if (!oldFolders.has(id)) assert.ok(p.startsWith('/acme/inbox/'), `${what}: folder created outside the grant: ${p}`);
      const oldFiles = new Map((before.rows.files as { id: string; folder_id: string; sha256: string }[]).map((f) => [f.id, f]));
      for (const f of after.rows.files as { id: string; folder_id: string; sha256: string }[]) {
        const p = folders.get(f.folder_id) ?? '?';
        const old = oldFiles.get(f.id);
        if (!old || old.sha256 !== f.sha256 || old.folder_id !== f.folder_id)
          assert.ok(p === '/acme/inbox' || p.startsWith('/acme/inbox/'), `${what}: a file changed outside the grant, in ${p}`);
      }
      for (const [id, f] of oldFiles) {
        const still = (after.rows.files as { id: string }[]).some((g) => g.id === id);
        if (!still)
          assert.ok(
            (before.rows.folders as { id: string; path: string }[]).find((d) => d.id === f.folder_id)?.path.startsWith('/acme/inbox'),
            `${what}: a file removed outside the grant`,
          );
      }
      assert.equal(x.egress.hits, 0, `${what}: outbound connection`);
    }

    it('Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP: every endpoint and field, as a partner', async () => {
      const before = await x.snapshot();
      const jobs: { op: Operation; field: { in: 'path' | 'query' | 'header' | 'body'; name: string }; value: string; set: PayloadSet }[] = [];
      for (const op of ops) {
        const fields = [...op.params.map((p) => ({ in: p.in, name: p.name })), ...op.body.map((name) => ({ in: 'body' as const, name }))];
        for (const field of fields) {
          const pathy = isPathField(op, field);
          const auth = op.path.startsWith('/api/v1/auth/');
          for (const set of sets) {
            // Every value into path fields; a representative one or two per set elsewhere (admin
            // routes refuse a partner before anything else, sign-in routes hash a password each).
            const values = pathy ? set.values : auth && set.item % 3 ? [] : (set.everywhere ?? []).slice(0, 1);
            for (const value of values) {
              if (field.in === 'header' && !/^[\x20-\x7e]*$/.test(value)) continue;
              jobs.push({ op, field, value, set });
            }
          }
        }
      }
      assert.ok(jobs.length > 500, `the sweep has ${jobs.length} requests`);
      const failures: string[] = [];
      await pool(jobs, 8, async ({ op, field, value, set }) => {
        const what = `${op.method} ${op.path} ${field.in}:${field.name} item ${set.item} ${JSON.stringify(value.slice(0, 40))}`;
        const { url, headers, body } = requestFor(op, field, value);
        const t0 = Date.now();
        const r = await x.raw(
          x.rawHead(op.method, url, {
            authorization: `Bearer ${x.tokens.alice}`,
            ...headers,
            ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}),
          }) + (body ?? ''),
        );
        try {
          assert.ok(r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
          x.clean(r.text, what);
          assert.ok(Date.now() - t0 < 10_000, `${what}: took ${Date.now() - t0} ms (ReDoS?)`);
          if (r.status >= 400) x.safe(r, what);
          if (op.path.startsWith('/api/v1/admin/')) assert.ok(r.status >= 400, `${what}: an admin route answered a partner ${r.status}`);
          if (isPathField(op, field) && set.reject === 'always') assert.ok(r.status >= 400, `${what}: accepted (${r.status})`);
          // Traversal is refused by the path parser itself (400), not merely hidden by the grant
          // check (404): a parser that resolved '..' would otherwise pass unseen for a partner.
          // (Admin routes refuse a partner before they parse anything.)
          if (isPathField(op, field) && (set.item === 1 || set.title === 'separators and dots') && !op.path.startsWith('/api/v1/admin/'))
            assert.ok([400, 413, 414, 431].includes(r.status), `${what}: not refused as a path (${r.status})`);
          assert.ok(!('set-cookie' in r.headers && /sid=x|a=b/.test(r.headers['set-cookie'] ?? '')), `${what}: header injection`);
        } catch (e) {
          failures.push((e as Error).message);
        }
      });
      assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures`);
      await onlyAliceChanged(before, 'partner sweep');
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
      await x.healthy();
    });

    it('Corpus §3 items 2 and 44 over HTTP: encoded traversal and malformed encodings in the raw URL path', async () => {
      const before = await x.snapshot();
      for (const p of [...ENCODED_TRAVERSAL, ...MALFORMED_URL]) {
        for (const method of ['GET', 'PUT', 'DELETE']) {
          const target = `/api/v1/fs/acme/inbox/${p}`;
          const r = await x.raw(
            x.rawHead(method, target, { authorization: `Bearer ${x.tokens.alice}`, ...(method === 'PUT' ? { 'content-length': 1 } : {}) }) +
              (method === 'PUT' ? 'x' : ''),
          );
          // Decoded exactly once: what is left is either refused or a literal name in alice's folder.
          if (r.status < 300) {
            if (method !== 'PUT') continue;
            assert.match((r.json() as { path?: string }).path ?? '/acme/inbox/', /^\/acme\/inbox\/[^/]+$/, `${method} ${p}: ${r.text}`);
            continue;
          }
          assert.ok(r.status === 400 || r.status === 404, `${method} ${p}: ${r.status} ${r.text}`);
          x.safe(r, `${method} ${p}`);
        }
      }
      await onlyAliceChanged(before, 'encoded traversal');
    });

    it('Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP: every operation that takes a path, as a partner', async () => {
      const before = await x.snapshot();
      const sftp: RawSftp = await x.sftp('alice');
      const failures: string[] = [];
      const ops: [string, (p: string) => Promise<Reply>][] = [
        ['OPEN read', (p) => sftp.open(p, OPEN.READ)],
        ['OPEN write', (p) => sftp.open(p, WRITE_NEW)],
        ['OPENDIR', (p) => sftp.request(T.OPENDIR, str(p))],
        ['STAT', (p) => sftp.request(T.STAT, str(p))],
        ['LSTAT', (p) => sftp.request(T.LSTAT, str(p))],
        ['SETSTAT', (p) => sftp.request(T.SETSTAT, str(p), u32(4), u32(0o644))],
        ['REMOVE', (p) => sftp.request(T.REMOVE, str(p))],
        ['MKDIR', (p) => sftp.request(T.MKDIR, str(p), u32(0))],
        ['RMDIR', (p) => sftp.request(T.RMDIR, str(p))],
        ['RENAME to', (p) => sftp.request(T.RENAME, str('/acme/inbox/no-such-source'), str(p))],
        ['RENAME from', (p) => sftp.request(T.RENAME, str(p), str('/acme/inbox/sweep-to'))],
        ['READLINK', (p) => sftp.request(T.READLINK, str(p))],
        ['SYMLINK', (p) => sftp.request(T.SYMLINK, str(p), str('/acme/inbox/link'))],
        ['posix-rename', (p) => sftp.extended('posix-rename@openssh.com', str('/acme/inbox/no-such-source'), str(p))],
        ['statvfs', (p) => sftp.extended('statvfs@openssh.com', str(p))],
        ['hardlink', (p) => sftp.extended('hardlink@openssh.com', str(ALICE_FILE), str(p))],
      ];
      const jobs: [string, (p: string) => Promise<Reply>, string, PayloadSet][] = [];
      for (const set of sets.filter((s) => s.item !== 44))
        for (const v of set.values)
          for (const p of set.reject === 'always' ? [`/acme/inbox/${v}`, v] : [`/acme/inbox/${v}`]) for (const [name, f] of ops) jobs.push([name, f, p, set]);
      await pool(jobs, 16, async ([name, f, p, set]) => {
        const what = `${name} item ${set.item} ${JSON.stringify(p.slice(0, 50))}`;
        const r = await f(p);
        try {
          if (r.type === 101) x.internals(r.message ?? '', what);
          // SFTP resolves '.' and '..' as sftp-server does, clamped at the root: such a path must
          // answer exactly as the path it resolves to, so a dot never reaches beyond the grants.
          const resolved = set.item === 4 ? resolvesTo(p) : undefined;
          if (resolved !== undefined && resolved !== p) {
            const direct = await f(resolved);
            if (direct.handle) await sftp.close(direct.handle);
            assert.deepEqual([r.type, r.code], [direct.type, direct.code], `${what}: answered unlike ${resolved}`);
          } else if (set.reject === 'always' || !p.startsWith('/acme/inbox/')) {
            if (r.type === 101) assert.notEqual(r.code, FX.OK, `${what}: OK`);
            else assert.fail(`${what}: answered with type ${r.type}`);
          }
        } catch (e) {
          failures.push((e as Error).message);
        }
        if (r.handle) await sftp.close(r.handle);
      });
      // Names that are not UTF-8 (a lone surrogate's bytes, overlong forms, 0xFF) are refused by every operation.
      for (const bytes of [
        [0xed, 0xa0, 0x80],
        [0xc0, 0xae],
        [0xff, 0xfe],
        [0xe0, 0x80, 0xaf],
      ]) {
        const p = Buffer.concat([Buffer.from('/acme/inbox/a'), Buffer.from(bytes)]);
        for (const [what, r] of [
          ['OPEN write', await sftp.request(T.OPEN, str(p), u32(WRITE_NEW), u32(0))],
          ['MKDIR', await sftp.request(T.MKDIR, str(p), u32(0))],
          ['STAT', await sftp.request(T.STAT, str(p))],
          ['RENAME', await sftp.request(T.RENAME, str(ALICE_FILE), str(p))],
        ] as const) {
          if (r.handle) await sftp.close(r.handle);
          x.sftpFailed(r, `${what} with bytes ${bytes.map((b) => b.toString(16)).join(' ')}`);
        }
      }
      // REALPATH resolves dots, but only ever to a path under the root.
      for (const set of sets)
        for (const v of set.values) {
          const r = await sftp.request(T.REALPATH, str(v));
          const out = r.names?.[0]?.filename;
          if (out !== undefined)
            assert.ok(out.startsWith('/') && !out.split('/').some((seg) => seg === '.' || seg === '..'), `REALPATH ${JSON.stringify(v.slice(0, 40))} → ${out}`);
          else x.sftpFailed(r, `REALPATH ${v.slice(0, 40)}`);
        }
      sftp.end();
      assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures`);
      await onlyAliceChanged(before, 'SFTP sweep');
      await x.healthy();
    });

    // Last: what an administrator creates here (canaries on alice's files, say) would change what alice may do.
    it('Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP: every admin lookup and create, as an administrator', async () => {
      const jobs: { op: Operation; field: { in: 'path' | 'query' | 'header' | 'body'; name: string }; value: string }[] = [];
      for (const op of ops.filter((o) => o.path.startsWith('/api/v1/admin/') || o.path.startsWith('/api/v1/tokens'))) {
        // Changes go only into fields of creations and lookups; PATCH/PUT bodies of existing accounts stay default.
        const fields = [
          ...op.params.map((p) => ({ in: p.in, name: p.name })),
          ...(op.method === 'POST' ? op.body.map((name) => ({ in: 'body' as const, name })) : []),
        ];
        for (const field of fields)
          for (const set of sets)
            for (const value of (set.everywhere ?? []).slice(0, 2).concat(set.reject === 'always' ? set.values.slice(0, 1) : []))
              jobs.push({ op, field, value });
      }
      const failures: string[] = [];
      await pool(jobs, 8, async ({ op, field, value }) => {
        const what = `${op.method} ${op.path} ${field.in}:${field.name} ${JSON.stringify(value.slice(0, 40))}`;
        if (field.in === 'header' && !/^[\x20-\x7e]*$/.test(value)) return;
        const { url, headers, body } = requestFor(op, field, value);
        const r = await x.raw(
          x.rawHead(op.method, url, {
            authorization: `Bearer ${x.tokens.root}`,
            ...headers,
            ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}),
          }) + (body ?? ''),
        );
        try {
          assert.ok(r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
          x.clean(r.text, what);
          if (r.status >= 400) x.safe(r, what);
        } catch (e) {
          failures.push((e as Error).message);
        }
      });
      assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures`);
      // The cast is intact: one administrator, alice and bob active partners with their grants.
      const snap = await x.snapshot();
      const users = snap.rows.users as { login: string; role: string; status: string }[];
      assert.deepEqual(
        users.filter((u) => u.role === 'admin').map((u) => u.login),
        ['root'],
      );
      for (const l of ['alice', 'bob'])
        assert.deepEqual(
          users.filter((u) => u.login === l).map((u) => [u.role, u.status]),
          [['partner', 'active']],
        );
      const verify = await x.http('GET', '/api/v1/admin/audit/verify', { token: x.tokens.root });
      assert.equal(verify.status, 200);
      assert.equal((JSON.parse(verify.text) as { ok: boolean }).ok, true, `the ledger verifies after the sweep: ${verify.text.slice(0, 300)}`);
      assert.equal(x.egress.hits, 0);
      await x.healthy();
    });
  });
}
