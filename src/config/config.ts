/**
 * Configuration: defaults, then an optional JSON file (SLUICE_CONFIG), then SLUICE_* environment
 * variables. Validated once at start with a message for every wrong value, then frozen.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CoreError } from '../core/errors.js';
import { isLoopbackHost, isTimeZone, parseDuration, parseListen, parseSize } from './units.js';
import { didYouMean } from './suggest.js';
import { DEFAULT_MAX_STARTUPS, DEFAULT_PENALTIES, parseMaxStartups, parsePenalties } from './preauth.js';

const listen = z.string().transform((v, ctx) => {
  const r = parseListen(v);
  if (!r) ctx.addIssue({ code: 'custom', message: `expected host:port, got "${v}"` });
  return r ?? { host: '', port: 0 };
});
const size = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  const r = typeof v === 'number' ? v : parseSize(v);
  if (r === undefined) ctx.addIssue({ code: 'custom', message: `expected a size like 500M or 2G, got "${v}"` });
  return r ?? 0;
});
const duration = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  const r = typeof v === 'number' ? v * 1000 : parseDuration(v);
  if (r === undefined) ctx.addIssue({ code: 'custom', message: `expected a duration like 30s, 15m or 8h, got "${v}"` });
  return r ?? 0;
});
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/, 'expected a whole number')])
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const schema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// (leave it unset for SQLite)')
      .optional(),
    /** PostgreSQL: the schema owner's URL; migrations run through it and the service's role is granted insert-only on the ledger. */
    databaseMigrateUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres://')
      .optional(),
    httpListen: listen.prefault('127.0.0.1:8080'),
    sftpListen: listen.prefault('127.0.0.1:2222'),
    storage: z.enum(['local']).default('local'),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    httpTlsProxy: bool.prefault(false),
    trustProxy: z.string().optional(),
    publicUrl: z.string().url().optional(),
    /** Host names the HTTP listener answers besides SLUICE_PUBLIC_URL's, loopback and IP literals (comma list, `*.example.org` allowed). */
    allowedHosts: z.string().optional(),
    maxUploadBytes: size.prefault('50G'),
    inlineMaxBytes: size.prefault('64K').pipe(z.number().max(65536, 'must be at most 64K (one encrypted segment)')),
    maxJsonBodyBytes: size.prefault('1M'),
    /** Resumable (tus) uploads: the largest part a PATCH body is cut into, committed on its own (what a crash can lose). */
    uploadPartBytes: size.prefault('64M').pipe(z.number().min(65536, 'must be at least 64K')),
    /** Resumable (tus) uploads: an upload not continued for this long expires and its parts are removed. */
    uploadExpiry: duration.prefault('24h'),
    /** Absolute lifetime of a web session (SLUICE_SESSION_MAX; SLUICE_SESSION_TTL is its older name). */
    sessionTtl: duration.optional(),
    sessionMax: duration.optional(),
    /** A web session unused this long ends. */
    sessionIdle: duration.prefault('30m'),
    oidcIssuer: z.string().url().optional(),
    oidcClientId: z.string().min(1).optional(),
    oidcClientSecret: z.string().min(1).optional(),
    oidcClientSecretFile: z.string().min(1).optional(),
    oidcRoleClaim: z.string().min(1).default('groups'),
    oidcRoles: z.string().default(''),
    oidcProvision: bool.prefault(false),
    oidcAllowPartner: bool.prefault(false),
    oidcOrg: z.string().min(1).optional(),
    lockoutThreshold: int(1, 1000).prefault(5),
    lockoutDuration: duration.prefault('15m'),
    hashConcurrency: int(1, 64).prefault(2),
    auditSink: z.string().min(1).optional(),
    auditSyslog: z
      .string()
      .regex(/^(tcp|tls):\/\//, 'must look like tcp://host:port or tls://host:port')
      .optional(),
    auditSyslogCa: z.string().optional(),
    smtpUrl: z
      .string()
      .regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://')
      .optional(),
    mailFrom: z.string().optional(),
    timeZone: z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin or UTC').prefault('Europe/Berlin'),
    alertEmail: z.string().optional(),
    alertWebhookUrl: z.string().url().optional(),
    alertWebhookSecret: z.string().min(16, 'must be at least 16 characters').optional(),
    alertWebhookAllowPrivate: bool.prefault(false),
    auditCheckpointInterval: duration.prefault('60s'),
    budgetWindow: duration.prefault('1h'),
    budgetUserFiles: int(0, 1e12).prefault(500),
    budgetUserBytes: size.prefault('5G'),
    budgetOrgFiles: int(0, 1e12).prefault(1000),
    budgetOrgBytes: size.prefault('10G'),
    budgetGlobalFiles: int(0, 1e12).prefault(20000),
    budgetGlobalBytes: size.prefault('200G'),
    canaryTripsGlobal: bool.prefault(false),
    httpMaxHeaderSize: size.prefault('16K').pipe(
      z
        .number()
        .min(1024, 'must be at least 1K')
        .max(1024 * 1024, 'must be at most 1M'),
    ),
    httpHeadersTimeout: duration.prefault('10s'),
    /** 0: no limit on a whole request (uploads take as long as they take; the idle timeout cuts stalls). */
    httpRequestTimeout: z
      .union([z.literal(0), z.literal('0'), duration])
      .transform(Number)
      .prefault(0),
    httpIdleTimeout: duration.prefault('60s'),
    httpKeepAliveTimeout: duration.prefault('5s'),
    httpMaxConnections: int(1, 1_000_000).prefault(4096),
    httpMaxConnectionsPerIp: int(1, 1_000_000).prefault(256),
    sftpMaxConnections: int(1, 100_000).prefault(1024),
    sftpMaxConnectionsPerIp: int(1, 100_000).prefault(256),
    sftpMaxPreauthPerIp: int(1, 1000).prefault(8),
    sftpMaxUnauthPerIp: int(1, 100_000).prefault(32),
    sftpLoginGrace: duration.prefault('30s'),
    /** The client's SSH identification line must arrive this soon after it connected. */
    sftpBannerTimeout: duration.prefault('10s'),
    /** Its first key-exchange packet this soon after the banner, and the key exchange this soon after admission. */
    sftpKexTimeout: duration.prefault('15s'),
    /** Random early drop of unauthenticated connections, as sshd's MaxStartups start:rate:full. */
    sftpMaxStartups: z
      .string()
      .default(DEFAULT_MAX_STARTUPS)
      .transform((v, ctx) => {
        const r = parseMaxStartups(v);
        if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
        return typeof r === 'string' ? { start: 1, rate: 100, full: 1 } : r;
      }),
    /** Penalties per source address, as sshd's PerSourcePenalties ("off" for none). */
    sftpPenalties: z
      .string()
      .default(DEFAULT_PENALTIES)
      .superRefine((v, ctx) => {
        const r = parsePenalties(v);
        if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
      }),
    /** Addresses and CIDR blocks never penalised (comma or space list). */
    sftpPenaltyExempt: z
      .string()
      .default('')
      .superRefine((v, ctx) => {
        const r = parsePenalties(DEFAULT_PENALTIES, v);
        if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
      }),
    /** SFTP worker processes: 0 runs SFTP inside the serve process; "auto": one per core on PostgreSQL, 0 on SQLite (app/serve.ts). */
    sftpProcesses: z.union([z.literal('auto'), int(0, 64)]).prefault('auto'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    nodeId: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - only')
      .default(
        os
          .hostname()
          .replace(/[^A-Za-z0-9._-]/g, '-')
          .slice(0, 64) || 'node',
      ),
  })
  .strict();

export type Config = Readonly<z.output<typeof schema>>;

/** Environment variable → config key. */
export const ENV_VARS: Readonly<Record<string, keyof z.input<typeof schema>>> = {
  SLUICE_DATA_DIR: 'dataDir',
  SLUICE_DATABASE_URL: 'databaseUrl',
  SLUICE_DATABASE_MIGRATE_URL: 'databaseMigrateUrl',
  SLUICE_HTTP_MAX_HEADER_SIZE: 'httpMaxHeaderSize',
  SLUICE_HTTP_HEADERS_TIMEOUT: 'httpHeadersTimeout',
  SLUICE_HTTP_REQUEST_TIMEOUT: 'httpRequestTimeout',
  SLUICE_HTTP_IDLE_TIMEOUT: 'httpIdleTimeout',
  SLUICE_HTTP_KEEPALIVE_TIMEOUT: 'httpKeepAliveTimeout',
  SLUICE_HTTP_MAX_CONNECTIONS: 'httpMaxConnections',
  SLUICE_HTTP_MAX_CONNECTIONS_PER_IP: 'httpMaxConnectionsPerIp',
  SLUICE_SFTP_MAX_CONNECTIONS: 'sftpMaxConnections',
  SLUICE_SFTP_MAX_CONNECTIONS_PER_IP: 'sftpMaxConnectionsPerIp',
  SLUICE_SFTP_MAX_PREAUTH_PER_IP: 'sftpMaxPreauthPerIp',
  SLUICE_SFTP_MAX_UNAUTH_PER_IP: 'sftpMaxUnauthPerIp',
  SLUICE_SFTP_LOGIN_GRACE: 'sftpLoginGrace',
  SLUICE_SFTP_BANNER_TIMEOUT: 'sftpBannerTimeout',
  SLUICE_SFTP_KEX_TIMEOUT: 'sftpKexTimeout',
  SLUICE_SFTP_MAX_STARTUPS: 'sftpMaxStartups',
  SLUICE_SFTP_PENALTIES: 'sftpPenalties',
  SLUICE_SFTP_PENALTY_EXEMPT: 'sftpPenaltyExempt',
  SLUICE_SFTP_PROCESSES: 'sftpProcesses',
  SLUICE_HTTP_LISTEN: 'httpListen',
  SLUICE_SFTP_LISTEN: 'sftpListen',
  SLUICE_STORAGE: 'storage',
  SLUICE_TLS_CERT: 'tlsCert',
  SLUICE_TLS_KEY: 'tlsKey',
  SLUICE_HTTP_TLS_PROXY: 'httpTlsProxy',
  SLUICE_TRUST_PROXY: 'trustProxy',
  SLUICE_PUBLIC_URL: 'publicUrl',
  SLUICE_ALLOWED_HOSTS: 'allowedHosts',
  SLUICE_MAX_UPLOAD_BYTES: 'maxUploadBytes',
  SLUICE_INLINE_MAX_BYTES: 'inlineMaxBytes',
  SLUICE_MAX_JSON_BODY_BYTES: 'maxJsonBodyBytes',
  SLUICE_UPLOAD_PART_BYTES: 'uploadPartBytes',
  SLUICE_UPLOAD_EXPIRY: 'uploadExpiry',
  SLUICE_SESSION_TTL: 'sessionTtl',
  SLUICE_SESSION_MAX: 'sessionMax',
  SLUICE_SESSION_IDLE: 'sessionIdle',
  SLUICE_OIDC_ISSUER: 'oidcIssuer',
  SLUICE_OIDC_CLIENT_ID: 'oidcClientId',
  SLUICE_OIDC_CLIENT_SECRET: 'oidcClientSecret',
  SLUICE_OIDC_CLIENT_SECRET_FILE: 'oidcClientSecretFile',
  SLUICE_OIDC_ROLE_CLAIM: 'oidcRoleClaim',
  SLUICE_OIDC_ROLES: 'oidcRoles',
  SLUICE_OIDC_PROVISION: 'oidcProvision',
  SLUICE_OIDC_ALLOW_PARTNER: 'oidcAllowPartner',
  SLUICE_OIDC_ORG: 'oidcOrg',
  SLUICE_LOCKOUT_THRESHOLD: 'lockoutThreshold',
  SLUICE_LOCKOUT_DURATION: 'lockoutDuration',
  SLUICE_HASH_CONCURRENCY: 'hashConcurrency',
  SLUICE_AUDIT_SINK: 'auditSink',
  SLUICE_AUDIT_SYSLOG: 'auditSyslog',
  SLUICE_AUDIT_SYSLOG_CA: 'auditSyslogCa',
  SLUICE_SMTP_URL: 'smtpUrl',
  SLUICE_MAIL_FROM: 'mailFrom',
  SLUICE_TIME_ZONE: 'timeZone',
  SLUICE_ALERT_EMAIL: 'alertEmail',
  SLUICE_ALERT_WEBHOOK_URL: 'alertWebhookUrl',
  SLUICE_ALERT_WEBHOOK_SECRET: 'alertWebhookSecret',
  SLUICE_ALERT_WEBHOOK_ALLOW_PRIVATE: 'alertWebhookAllowPrivate',
  SLUICE_AUDIT_CHECKPOINT_INTERVAL: 'auditCheckpointInterval',
  SLUICE_BUDGET_WINDOW: 'budgetWindow',
  SLUICE_BUDGET_USER_FILES: 'budgetUserFiles',
  SLUICE_BUDGET_USER_BYTES: 'budgetUserBytes',
  SLUICE_BUDGET_ORG_FILES: 'budgetOrgFiles',
  SLUICE_BUDGET_ORG_BYTES: 'budgetOrgBytes',
  SLUICE_BUDGET_GLOBAL_FILES: 'budgetGlobalFiles',
  SLUICE_BUDGET_GLOBAL_BYTES: 'budgetGlobalBytes',
  SLUICE_CANARY_TRIPS_GLOBAL: 'canaryTripsGlobal',
  SLUICE_LOG_LEVEL: 'logLevel',
  SLUICE_NODE_ID: 'nodeId',
};

const KEY_TO_ENV = Object.fromEntries(Object.entries(ENV_VARS).map(([k, v]) => [v, k]));

/**
 * SLUICE_* variables that are not settings: the CLI's and the test harness's. Any other SLUICE_*
 * variable that is not in ENV_VARS is refused at start, so a typo cannot go unnoticed.
 */
const OTHER_VARS = new Set(['SLUICE_CONFIG', 'SLUICE_ADMIN', 'SLUICE_DEBUG', 'SLUICE_DRILL_PG_URL']);
const OTHER_PREFIXES = ['SLUICE_TEST_'];

export type ConfigSource = 'default' | 'file' | 'environment' | 'option';

interface Collected {
  readonly input: Record<string, unknown>;
  readonly sources: Record<string, ConfigSource>;
}

/** Gathers the raw settings (file, then environment, then command-line options), refusing unknown names. */
function collect(env: NodeJS.ProcessEnv, overrides: Record<string, unknown>): Collected {
  const input: Record<string, unknown> = Object.create(null);
  const sources: Record<string, ConfigSource> = Object.create(null);
  const problems: string[] = [];
  const file = env.SLUICE_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new CoreError('INVALID_INPUT', `configuration file ${file} could not be read as JSON: ${(e as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new CoreError('INVALID_INPUT', `configuration file ${file} must hold a JSON object`);
    }
    for (const [k, v] of Object.entries(parsed)) {
      if (!(k in KEY_TO_ENV)) {
        problems.push(`${file}: unknown setting "${k}"${didYouMean(k, Object.keys(KEY_TO_ENV))}`);
        continue;
      }
      input[k] = v;
      sources[k] = 'file';
    }
  }
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SLUICE_') || name in ENV_VARS || OTHER_VARS.has(name) || OTHER_PREFIXES.some((p) => name.startsWith(p))) continue;
    problems.push(`unknown setting ${name}${didYouMean(name, [...Object.keys(ENV_VARS), ...OTHER_VARS])}`);
  }
  if (problems.length) throw new CoreError('INVALID_INPUT', `invalid configuration:\n  ${problems.join('\n  ')}`);
  for (const [name, key] of Object.entries(ENV_VARS)) {
    const v = env[name];
    if (v !== undefined && v !== '') {
      input[key] = v;
      sources[key] = 'environment';
    }
  }
  for (const [k, v] of Object.entries(overrides))
    if (v !== undefined) {
      input[k] = v;
      sources[k] = 'option';
    }
  return { input, sources };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Record<string, unknown> = {}): Config {
  const { input } = collect(env, overrides);
  if (env.SLUICE_STORAGE === 's3') {
    throw new CoreError('INVALID_INPUT', 'SLUICE_STORAGE=s3 is not available in this version; use local');
  }

  const r = schema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const where = KEY_TO_ENV[key] ? `${KEY_TO_ENV[key]} (${key})` : key || 'configuration';
      return `${where}: ${i.message}`;
    });
    throw new CoreError('INVALID_INPUT', `invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const c = r.data;
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) {
    throw new CoreError('INVALID_INPUT', 'invalid configuration: SLUICE_TLS_CERT and SLUICE_TLS_KEY must be set together');
  }
  if (!isLoopbackHost(c.httpListen.host) && c.tlsCert === undefined && !c.httpTlsProxy) {
    throw new CoreError(
      'INVALID_INPUT',
      `invalid configuration: SLUICE_HTTP_LISTEN ${c.httpListen.host} is not a loopback address; set SLUICE_TLS_CERT and SLUICE_TLS_KEY, or SLUICE_HTTP_TLS_PROXY=true when a TLS proxy terminates in front of Sluice`,
    );
  }
  if (c.httpRequestTimeout > 0 && c.httpRequestTimeout < c.httpHeadersTimeout)
    throw new CoreError('INVALID_INPUT', 'invalid configuration: SLUICE_HTTP_REQUEST_TIMEOUT must be 0 (none) or at least SLUICE_HTTP_HEADERS_TIMEOUT');
  if (c.alertEmail && !c.smtpUrl) throw new CoreError('INVALID_INPUT', 'invalid configuration: SLUICE_ALERT_EMAIL needs SLUICE_SMTP_URL');
  if (c.alertWebhookUrl && !c.alertWebhookSecret)
    throw new CoreError(
      'INVALID_INPUT',
      'invalid configuration: SLUICE_ALERT_WEBHOOK_URL needs SLUICE_ALERT_WEBHOOK_SECRET (at least 16 characters) to sign the requests',
    );
  return Object.freeze({ ...c, dataDir: path.resolve(c.dataDir) });
}

/** The web app's own origin: SLUICE_PUBLIC_URL's, else http(s)://localhost:PORT of the HTTP listener. */
export function publicOrigin(c: Pick<Config, 'publicUrl' | 'tlsCert' | 'httpListen'>): string {
  if (c.publicUrl) return new URL(c.publicUrl).origin;
  const scheme = c.tlsCert ? 'https' : 'http';
  const port = c.httpListen.port;
  const def = (scheme === 'https' && port === 443) || (scheme === 'http' && port === 80);
  return `${scheme}://localhost${def ? '' : `:${port}`}`;
}

/** Where the OpenID provider sends the browser back (register this URL at the provider). */
export const oidcRedirectUri = (c: Pick<Config, 'publicUrl' | 'tlsCert' | 'httpListen'>) => `${publicOrigin(c)}/api/v1/auth/oidc/callback`;

/** Settings whose values are secrets: shown as "***" (URLs keep all but their password). */
const SECRET_KEYS = new Set(['oidcClientSecret', 'alertWebhookSecret']);
const URL_KEYS = new Set(['databaseUrl', 'databaseMigrateUrl', 'smtpUrl', 'auditSyslog']);

function masked(key: string, value: unknown): unknown {
  if (value === undefined) return undefined;
  if (SECRET_KEYS.has(key)) return '***';
  if (URL_KEYS.has(key) && typeof value === 'string') {
    try {
      const u = new URL(value);
      if (u.password) u.password = '***';
      return u.toString();
    } catch {
      return '***';
    }
  }
  return value;
}

export interface ExplainedSetting {
  readonly key: string;
  readonly env: string;
  /** The effective value (secrets masked); undefined when unset. */
  readonly value: unknown;
  readonly source: ConfigSource;
}

/** The effective configuration, one row per setting, with where each value came from; secrets masked. */
export function explainConfig(env: NodeJS.ProcessEnv = process.env, overrides: Record<string, unknown> = {}): ExplainedSetting[] {
  const c = loadConfig(env, overrides) as unknown as Record<string, unknown>;
  const { sources } = collect(env, overrides);
  return Object.entries(ENV_VARS)
    .map(([name, key]) => ({ key, env: name, value: masked(key, c[key]), source: sources[key] ?? ('default' as const) }))
    .sort((a, b) => a.env.localeCompare(b.env));
}
