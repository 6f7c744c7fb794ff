/**
 * The attack corpus (shared/design/attack-corpus.md) as data: every row of its summary table
 * (§1, 47 vulnerabilities) and every generic hostile input (§3, 50 items), each with the tests in
 * test/attacks/ that replay it. A test title is named by its start (the CVE ids and recipe ids
 * before the colon). corpus-index.test.ts fails when a row or item has no test, or when a named
 * test does not exist; SECURITY.md's table is this index.
 */

export interface TestRef {
  /** The file in test/attacks/ (without .test.ts). */
  readonly file: string;
  /** The start of the test's title. */
  readonly test: string;
}

export interface CorpusRow {
  readonly row: number;
  readonly product: string;
  readonly cve: string;
  readonly cls: string;
  readonly tests: readonly TestRef[];
}

export interface GenericItem {
  readonly item: number;
  readonly title: string;
  readonly tests: readonly TestRef[];
}

/** The number of rows in the corpus summary table and of generic items. */
export const CORPUS_ROWS = 47;
export const GENERIC_ITEMS = 50;

export const CORPUS: readonly CorpusRow[] = [
  { row: 1, product: 'Accellion FTA', cve: 'CVE-2021-27101', cls: 'SQLi (CWE-89)', tests: [{ file: 'accellion', test: 'CVE-2021-27101 (ACC-1)' }] },
  {
    row: 2,
    product: 'Accellion FTA',
    cve: 'CVE-2021-27104',
    cls: 'OS command injection (CWE-78)',
    tests: [{ file: 'accellion', test: 'CVE-2021-27104, CVE-2021-27102 (ACC-2)' }],
  },
  { row: 3, product: 'Accellion FTA', cve: 'CVE-2021-27103', cls: 'SSRF (CWE-918)', tests: [{ file: 'accellion', test: 'CVE-2021-27103 (ACC-3)' }] },
  {
    row: 4,
    product: 'Accellion FTA',
    cve: 'CVE-2021-27102',
    cls: 'OS command injection via loopback trust (CWE-78)',
    tests: [
      { file: 'accellion', test: 'CVE-2021-27104, CVE-2021-27102 (ACC-2)' },
      { file: 'accellion', test: 'CVE-2021-27102 (ACC-4)' },
    ],
  },
  {
    row: 5,
    product: 'MOVEit Transfer',
    cve: 'CVE-2023-34362',
    cls: 'SQLi, then deserialization (CWE-89, CWE-502)',
    tests: [
      { file: 'moveit', test: 'CVE-2023-34362 (MOV-1a, MOV-1f)' },
      { file: 'moveit', test: 'CVE-2023-34362, CVE-2023-35036, CVE-2023-35708 (MOV-1b, MOV-2)' },
      { file: 'moveit', test: 'CVE-2023-34362 (MOV-1c)' },
      { file: 'moveit', test: 'CVE-2023-34362 (MOV-1d)' },
      { file: 'moveit', test: 'CVE-2023-34362 (MOV-1e)' },
      { file: 'moveit', test: 'CVE-2023-34362 (MOV-1e over SFTP)' },
    ],
  },
  {
    row: 6,
    product: 'MOVEit Transfer',
    cve: 'CVE-2023-35036',
    cls: 'SQLi (CWE-89)',
    tests: [{ file: 'moveit', test: 'CVE-2023-34362, CVE-2023-35036, CVE-2023-35708 (MOV-1b, MOV-2)' }],
  },
  {
    row: 7,
    product: 'MOVEit Transfer',
    cve: 'CVE-2023-35708',
    cls: 'SQLi (CWE-89)',
    tests: [{ file: 'moveit', test: 'CVE-2023-34362, CVE-2023-35036, CVE-2023-35708 (MOV-1b, MOV-2)' }],
  },
  {
    row: 8,
    product: 'MOVEit Transfer',
    cve: 'CVE-2024-5806',
    cls: 'SFTP auth bypass (CWE-287)',
    tests: [
      { file: 'moveit', test: 'CVE-2024-5806, CVE-2024-5805 (MOV-3a, MOV-3d, MOV-3e)' },
      { file: 'moveit', test: 'CVE-2024-45337, CVE-2024-5806 (MOV-3b, MOV-3c)' },
      { file: 'moveit', test: 'CVE-2024-5806 (MOV-3f, MOV-3g)' },
      { file: 'moveit', test: 'CVE-2024-5806 (MOV-3h, MOV-3i)' },
      { file: 'moveit', test: 'CVE-2024-5806 (MOV-3j)' },
    ],
  },
  {
    row: 9,
    product: 'MOVEit Gateway',
    cve: 'CVE-2024-5805',
    cls: 'SFTP auth bypass (CWE-287)',
    tests: [{ file: 'moveit', test: 'CVE-2024-5806, CVE-2024-5805 (MOV-3a, MOV-3d, MOV-3e)' }],
  },
  {
    row: 10,
    product: 'MOVEit Transfer',
    cve: 'CVE-2024-6576',
    cls: 'SFTP privilege escalation (CWE-287)',
    tests: [{ file: 'moveit', test: 'CVE-2024-6576 (MOV-4)' }],
  },
  { row: 11, product: 'GoAnywhere MFT', cve: 'CVE-2023-0669', cls: 'Deserialization (CWE-502)', tests: [{ file: 'goanywhere', test: 'CVE-2023-0669 (GA-1)' }] },
  {
    row: 12,
    product: 'GoAnywhere MFT',
    cve: 'CVE-2024-0204',
    cls: 'Forced browsing via path parameters (CWE-425)',
    tests: [{ file: 'goanywhere', test: 'CVE-2024-0204 (GA-2)' }],
  },
  {
    row: 13,
    product: 'GoAnywhere MFT',
    cve: 'CVE-2025-10035',
    cls: 'Signed-then-deserialized input (CWE-502)',
    tests: [{ file: 'goanywhere', test: 'CVE-2025-10035 (GA-3)' }],
  },
  { row: 14, product: 'Cleo', cve: 'CVE-2024-50623', cls: 'Paths in headers (CWE-434, CWE-22)', tests: [{ file: 'cleo', test: 'CVE-2024-50623 (CLEO-a)' }] },
  { row: 15, product: 'Cleo', cve: 'CVE-2024-55956', cls: 'Write into autorun (CWE-276)', tests: [{ file: 'cleo', test: 'CVE-2024-55956 (CLEO-b, CLEO-c)' }] },
  { row: 16, product: 'CrushFTP', cve: 'CVE-2024-4040', cls: 'Template injection (CWE-1336)', tests: [{ file: 'crushftp', test: 'CVE-2024-4040 (CRUSH-1)' }] },
  {
    row: 17,
    product: 'CrushFTP',
    cve: 'CVE-2025-31161',
    cls: 'Alternate auth scheme (CWE-305)',
    tests: [{ file: 'crushftp', test: 'CVE-2025-31161 (CRUSH-2)' }],
  },
  {
    row: 18,
    product: 'CrushFTP',
    cve: 'CVE-2025-54309',
    cls: 'Alternate channel, session race (CWE-420)',
    tests: [{ file: 'crushftp', test: 'CVE-2025-54309 (CRUSH-3)' }],
  },
  {
    row: 19,
    product: 'Serv-U',
    cve: 'CVE-2021-35211',
    cls: 'SSH packet handling (CWE-787)',
    tests: [
      { file: 'servu', test: 'CVE-2021-35211 (SERVU-1a, SERVU-1b)' },
      { file: 'servu', test: 'CVE-2021-35211 (SERVU-1c)' },
      { file: 'servu', test: 'CVE-2021-35211: host keys' },
    ],
  },
  { row: 20, product: 'Serv-U', cve: 'CVE-2021-35247', cls: 'LDAP injection at login (CWE-20)', tests: [{ file: 'servu', test: 'CVE-2021-35247 (SERVU-2)' }] },
  {
    row: 21,
    product: 'Serv-U',
    cve: 'CVE-2024-28995',
    cls: 'Traversal in resource parameters (CWE-22)',
    tests: [{ file: 'servu', test: 'CVE-2024-28995 (SERVU-3)' }],
  },
  {
    row: 22,
    product: 'Serv-U',
    cve: 'CVE-2026-28318',
    cls: 'Content-Encoding exhaustion (CWE-400)',
    tests: [{ file: 'servu', test: 'CVE-2026-28318 (SERVU-4)' }],
  },
  {
    row: 23,
    product: 'ShareFile SZC',
    cve: 'CVE-2021-22941',
    cls: 'Improper access control (CWE-284)',
    tests: [{ file: 'sharefile', test: 'CVE-2023-24489, CVE-2021-22941 (SF-a)' }],
  },
  {
    row: 24,
    product: 'ShareFile SZC',
    cve: 'CVE-2023-24489',
    cls: 'Forgeable tokens, upload-id traversal (CWE-284)',
    tests: [
      { file: 'sharefile', test: 'CVE-2023-24489, CVE-2021-22941 (SF-a)' },
      { file: 'sharefile', test: 'CVE-2023-24489 (SF-b, SF-c)' },
    ],
  },
  {
    row: 25,
    product: 'WS_FTP',
    cve: 'CVE-2023-40044',
    cls: 'Deserialization in a peripheral module (CWE-502)',
    tests: [{ file: 'wsftp', test: 'CVE-2023-40044 (WSFTP)' }],
  },
  { row: 26, product: 'WS_FTP', cve: 'CVE-2023-42657', cls: 'Path traversal (CWE-22)', tests: [{ file: 'wsftp', test: 'CVE-2023-42657' }] },
  { row: 27, product: 'Wing FTP', cve: 'CVE-2025-47812', cls: 'NUL byte (CWE-158)', tests: [{ file: 'wingftp', test: 'CVE-2025-47812' }] },
  { row: 28, product: 'Gladinet', cve: 'CVE-2025-30406', cls: 'Hard-coded key (CWE-321)', tests: [{ file: 'gladinet', test: 'CVE-2025-30406 (GL-1)' }] },
  { row: 29, product: 'Gladinet', cve: 'CVE-2025-11371', cls: 'Local file read (CWE-552)', tests: [{ file: 'gladinet', test: 'CVE-2025-11371 (GL-2)' }] },
  {
    row: 30,
    product: 'Gladinet Triofox',
    cve: 'CVE-2025-12480',
    cls: 'Host: localhost trusted (CWE-306)',
    tests: [{ file: 'gladinet', test: 'CVE-2025-12480 (GL-3)' }],
  },
  {
    row: 31,
    product: 'ownCloud graphapi',
    cve: 'CVE-2023-49103',
    cls: 'Shipped test file (CWE-200)',
    tests: [{ file: 'peripheral', test: 'CVE-2023-49103 (OC-1)' }],
  },
  {
    row: 32,
    product: 'ProjectSend',
    cve: 'CVE-2024-11680',
    cls: 'Settings without auth (CWE-287)',
    tests: [{ file: 'peripheral', test: 'CVE-2024-11680 (PS-1)' }],
  },
  { row: 33, product: 'FileZen', cve: 'CVE-2026-25108', cls: 'OS command injection (CWE-78)', tests: [{ file: 'peripheral', test: 'CVE-2026-25108 (FZ-1)' }] },
  {
    row: 34,
    product: 'Erlang/OTP SSH',
    cve: 'CVE-2025-32433',
    cls: 'Messages before auth (CWE-306)',
    tests: [{ file: 'ssh', test: 'CVE-2025-32433 (SSH-1)' }],
  },
  { row: 35, product: 'SSH (Terrapin)', cve: 'CVE-2023-48795', cls: 'Prefix truncation (CWE-354)', tests: [{ file: 'ssh', test: 'CVE-2023-48795 (SSH-2)' }] },
  {
    row: 36,
    product: 'Go x/crypto/ssh',
    cve: 'CVE-2024-45337',
    cls: 'PublicKeyCallback misuse (CWE-863)',
    tests: [{ file: 'moveit', test: 'CVE-2024-45337, CVE-2024-5806 (MOV-3b, MOV-3c)' }],
  },
  { row: 37, product: 'SFTPGo', cve: 'CVE-2022-36071', cls: 'Recovery codes before 2FA', tests: [{ file: 'sftpgo', test: 'CVE-2022-36071 (SG-1)' }] },
  { row: 38, product: 'SFTPGo', cve: 'CVE-2022-39220', cls: 'XSS (CWE-79)', tests: [{ file: 'sftpgo', test: 'CVE-2022-39220, GHSA-f9qc-3v4f-32w3 (SG-2)' }] },
  { row: 39, product: 'SFTPGo', cve: 'CVE-2024-37897', cls: 'Restricted users reset passwords', tests: [{ file: 'sftpgo', test: 'CVE-2024-37897 (SG-4)' }] },
  { row: 40, product: 'SFTPGo', cve: 'CVE-2024-52309', cls: 'Admin to OS', tests: [{ file: 'sftpgo', test: 'CVE-2024-52309 (SG-5)' }] },
  {
    row: 41,
    product: 'SFTPGo',
    cve: 'CVE-2025-24366',
    cls: 'rsync argument injection',
    tests: [{ file: 'sftpgo', test: 'CVE-2025-24366, GHSA-j4w8-6gjf-fqvg (SG-6, SG-11)' }],
  },
  { row: 42, product: 'SFTPGo', cve: 'CVE-2026-30914', cls: 'Normalisation after routing', tests: [{ file: 'sftpgo', test: 'CVE-2026-30914 (SG-7)' }] },
  { row: 43, product: 'SFTPGo', cve: 'CVE-2026-30915', cls: 'Placeholder injection into paths', tests: [{ file: 'sftpgo', test: 'CVE-2026-30915 (SG-8)' }] },
  { row: 44, product: 'SFTPGo', cve: 'CVE-2026-49244', cls: 'Share ZIP escape', tests: [{ file: 'sftpgo', test: 'CVE-2026-49244 (SG-9)' }] },
  { row: 45, product: 'SFTPGo', cve: 'CVE-2026-49245', cls: 'Inline disposition, stored XSS', tests: [{ file: 'sftpgo', test: 'CVE-2026-49245 (SG-3)' }] },
  {
    row: 46,
    product: 'SFTPGo',
    cve: 'GHSA-5jhj-cjcp-jr8r, GHSA-j4w8-6gjf-fqvg, GHSA-f9qc-3v4f-32w3',
    cls: 'Session lifecycle, SCP memory, stored XSS',
    tests: [
      { file: 'sftpgo', test: 'GHSA-5jhj-cjcp-jr8r (SG-10)' },
      { file: 'sftpgo', test: 'CVE-2025-24366, GHSA-j4w8-6gjf-fqvg (SG-6, SG-11)' },
      { file: 'sftpgo', test: 'CVE-2022-39220, GHSA-f9qc-3v4f-32w3 (SG-2)' },
      { file: 'sftpgo', test: 'SG-12 (symlink hardening)' },
      { file: 'sftpgo', test: 'SG-13 (CSRF fall-through)' },
      { file: 'sftpgo', test: 'SG-14' },
    ],
  },
  {
    row: 47,
    product: 'MOVEit Transfer',
    cve: 'CVE-2026-10697, CVE-2026-89077',
    cls: 'MFA bypass, SFTP identity (CWE-287, CWE-303)',
    tests: [{ file: 'moveit', test: 'CVE-2026-10697, CVE-2026-89077' }],
  },
];

export const GENERIC: readonly GenericItem[] = [
  {
    item: 1,
    title: 'Plain traversal',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'wsftp', test: 'CVE-2023-42657' },
    ],
  },
  {
    item: 2,
    title: 'Encoded traversal',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 2 and 44 over HTTP' },
    ],
  },
  {
    item: 3,
    title: 'Unicode look-alikes and normalisation',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
    ],
  },
  {
    item: 4,
    title: 'Separators and dots',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
    ],
  },
  {
    item: 5,
    title: 'NUL and control characters',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'wingftp', test: 'CVE-2025-47812' },
    ],
  },
  {
    item: 6,
    title: 'Bidi and invisible characters',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
      { file: 'sftpgo', test: 'SG-14' },
    ],
  },
  {
    item: 7,
    title: 'Over-long and deep names',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
    ],
  },
  {
    item: 8,
    title: 'Windows-isms',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
    ],
  },
  {
    item: 9,
    title: 'Case collisions',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
      { file: 'moveit', test: 'CVE-2024-5806 (MOV-3f, MOV-3g)' },
    ],
  },
  {
    item: 10,
    title: 'Symlink tricks',
    tests: [
      { file: 'sftpgo', test: 'SG-12 (symlink hardening)' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
    ],
  },
  {
    item: 11,
    title: 'Hard links and renames',
    tests: [
      { file: 'moveit', test: 'CVE-2024-6576 (MOV-4)' },
      { file: 'sftpgo', test: 'SG-12 (symlink hardening)' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
    ],
  },
  { item: 12, title: 'Shipped and dev artifacts', tests: [{ file: 'peripheral', test: 'CVE-2023-49103 (OC-1)' }] },
  {
    item: 13,
    title: 'Executable or active content',
    tests: [
      { file: 'sftpgo', test: 'CVE-2026-49245 (SG-3)' },
      { file: 'moveit', test: 'CVE-2023-34362 (MOV-1e)' },
    ],
  },
  {
    item: 14,
    title: 'Double extensions and MIME lies',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
    ],
  },
  { item: 15, title: 'Size and quota', tests: [{ file: 'generic-cases', test: 'Corpus §3 item 15' }] },
  {
    item: 16,
    title: 'Compression bombs',
    tests: [
      { file: 'servu', test: 'CVE-2026-28318 (SERVU-4)' },
      { file: 'ssh', test: 'Corpus §3 item 49 (SSH-3)' },
    ],
  },
  { item: 17, title: 'Zip slip (no server-side extraction)', tests: [{ file: 'sharefile', test: 'CVE-2023-24489 (SF-b, SF-c)' }] },
  {
    item: 18,
    title: 'Links inside archives (no extraction, no links)',
    tests: [
      { file: 'sharefile', test: 'CVE-2023-24489 (SF-b, SF-c)' },
      { file: 'sftpgo', test: 'SG-12 (symlink hardening)' },
    ],
  },
  { item: 19, title: 'Many small files and handles', tests: [{ file: 'generic-cases', test: 'Corpus §3 items 19, 47' }] },
  { item: 20, title: 'Huge headers', tests: [{ file: 'generic-cases', test: 'Corpus §3 items 20, 22' }] },
  {
    item: 21,
    title: 'Slowloris, slow POST',
    tests: [{ file: 'generic-cases', test: 'Corpus §3 item 21' }],
  },
  { item: 22, title: 'Request smuggling', tests: [{ file: 'generic-cases', test: 'Corpus §3 items 20, 22' }] },
  { item: 23, title: 'Range abuse', tests: [{ file: 'generic-cases', test: 'Corpus §3 item 23' }] },
  {
    item: 24,
    title: 'Parameter pollution and type confusion',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
    ],
  },
  {
    item: 25,
    title: 'Prototype pollution',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'goanywhere', test: 'CVE-2023-0669 (GA-1)' },
      { file: 'moveit', test: 'CVE-2023-34362 (MOV-1d)' },
    ],
  },
  { item: 26, title: 'Mass assignment', tests: [{ file: 'generic-cases', test: 'Corpus §3 items 26, 27' }] },
  { item: 27, title: 'IDOR / BOLA', tests: [{ file: 'generic-cases', test: 'Corpus §3 items 26, 27' }] },
  {
    item: 28,
    title: 'CSRF',
    tests: [
      { file: 'sftpgo', test: 'SG-13 (CSRF fall-through)' },
      { file: 'peripheral', test: 'CVE-2024-11680 (PS-1)' },
    ],
  },
  {
    item: 29,
    title: 'Session fixation and lifecycle',
    tests: [
      { file: 'generic-cases', test: 'Corpus §3 item 29' },
      { file: 'sftpgo', test: 'GHSA-5jhj-cjcp-jr8r (SG-10)' },
    ],
  },
  {
    item: 30,
    title: 'Open redirects',
    tests: [{ file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' }],
  },
  {
    item: 31,
    title: 'SSRF',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'accellion', test: 'CVE-2021-27103 (ACC-3)' },
    ],
  },
  { item: 32, title: 'DNS rebinding', tests: [{ file: 'generic-cases', test: 'Corpus §3 items 32, 37, 45' }] },
  {
    item: 33,
    title: 'Header injection in Content-Disposition',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
    ],
  },
  {
    item: 34,
    title: 'E-mail header injection',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
    ],
  },
  {
    item: 35,
    title: 'Log and CSV injection',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'moveit', test: 'CVE-2024-5806 (MOV-3j)' },
    ],
  },
  {
    item: 36,
    title: 'XSS',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
      { file: 'sftpgo', test: 'CVE-2022-39220, GHSA-f9qc-3v4f-32w3 (SG-2)' },
    ],
  },
  { item: 37, title: 'Clickjacking and embedding', tests: [{ file: 'generic-cases', test: 'Corpus §3 items 32, 37, 45' }] },
  {
    item: 38,
    title: 'Template injection',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'crushftp', test: 'CVE-2024-4040 (CRUSH-1)' },
    ],
  },
  {
    item: 39,
    title: 'SQL, NoSQL, LDAP, command injection',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'moveit', test: 'CVE-2023-34362, CVE-2023-35036, CVE-2023-35708 (MOV-1b, MOV-2)' },
    ],
  },
  { item: 40, title: 'XXE and XML bombs (no XML parsed)', tests: [{ file: 'generic-cases', test: 'Corpus §3 items 40, 42' }] },
  {
    item: 41,
    title: 'Deserialization',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'goanywhere', test: 'CVE-2023-0669 (GA-1)' },
    ],
  },
  { item: 42, title: 'JSON edge cases', tests: [{ file: 'generic-cases', test: 'Corpus §3 items 40, 42' }] },
  {
    item: 43,
    title: 'ReDoS',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 24, 31, 34, 35, 38, 39, 41, 43, 44 over HTTP' },
    ],
  },
  {
    item: 44,
    title: 'Malformed encodings',
    tests: [
      { file: 'generic-sweep', test: 'Corpus §3 items 1-9, 14, 24, 25, 30, 31, 33-36, 38, 39, 41, 43, 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 2 and 44 over HTTP' },
      { file: 'generic-sweep', test: 'Corpus §3 items 1-11, 14, 33, 36, 38, 39, 43, 44 over SFTP' },
    ],
  },
  {
    item: 45,
    title: 'Case and encoding differences between layers',
    tests: [
      { file: 'generic-cases', test: 'Corpus §3 items 32, 37, 45' },
      { file: 'goanywhere', test: 'CVE-2024-0204 (GA-2)' },
    ],
  },
  { item: 46, title: 'SFTP framing', tests: [{ file: 'generic-cases', test: 'Corpus §3 item 46' }] },
  { item: 47, title: 'SFTP handle abuse', tests: [{ file: 'generic-cases', test: 'Corpus §3 items 19, 47' }] },
  {
    item: 48,
    title: 'SSH channel and window abuse',
    tests: [
      { file: 'ssh', test: 'Corpus §3 item 48' },
      { file: 'moveit', test: 'CVE-2024-6576 (MOV-4)' },
    ],
  },
  {
    item: 49,
    title: 'Algorithm downgrade and handshake abuse',
    tests: [
      { file: 'ssh', test: 'Corpus §3 item 49 (SSH-3)' },
      { file: 'ssh', test: 'CVE-2023-48795 (SSH-2)' },
      { file: 'servu', test: 'CVE-2021-35211 (SERVU-1a, SERVU-1b)' },
    ],
  },
  {
    item: 50,
    title: 'Authentication abuse',
    tests: [
      { file: 'ssh', test: 'Corpus §3 item 50 (SSH-5)' },
      { file: 'moveit', test: 'CVE-2024-5806, CVE-2024-5805 (MOV-3a, MOV-3d, MOV-3e)' },
    ],
  },
];
