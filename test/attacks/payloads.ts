/**
 * The payload sets of attack corpus §3 ("Generic hostile inputs"), one entry per item that is a
 * string to inject. `reject` says what the path parser must do with the payload as a name or
 * path under the caller's folder: 'always' = refused wherever a path is taken (HTTP and SFTP);
 * 'never-escape' = may be accepted as a literal name, but only inside the caller's grant.
 */
export interface PayloadSet {
  readonly item: number;
  readonly title: string;
  readonly values: readonly string[];
  readonly reject: 'always' | 'never-escape';
  /** Also sent into every non-path field of every endpoint (a representative subset). */
  readonly everywhere?: readonly string[];
}

export function payloadSets(egressUrl: string, outsideFile: string): PayloadSet[] {
  return [
    {
      item: 1,
      title: 'plain traversal',
      reject: 'always',
      values: [
        '../../../../etc/passwd',
        '..\\..\\..\\..\\windows\\win.ini',
        'C:\\Windows\\win.ini',
        '\\\\127.0.0.1\\c$\\x',
        '....//....//etc/passwd',
        '..../',
        '.../...//',
        '../../beta/inbox/secret.txt',
        `..${outsideFile}`,
      ],
      everywhere: ['../../../../etc/passwd', '..\\..\\..\\windows\\win.ini', outsideFile],
    },
    {
      item: 2,
      title: 'encoded traversal (decoded once: literal names)',
      reject: 'never-escape',
      values: ['%2e%2e%2f', '..%2f', '%2e%2e%5c', '%252e%252e%252f', '..%c0%af', '..%ef%bc%8f', '%00'],
      everywhere: ['%2e%2e%2f', '..%252f'],
    },
    {
      item: 3,
      title: 'Unicode look-alike separators and dots',
      reject: 'always',
      values: ['\uff0e\uff0e\uff0f', '\u2215etc', '\u2044x', '\u2025', '\ufe30'],
      everywhere: ['\uff0e\uff0e\uff0f'],
    },
    {
      item: 3,
      title: 'NFKC-collapsing and combining names (literal, NFC)',
      reject: 'never-escape',
      values: ['\ufb01le', '\uff41\uff44\uff4d\uff49\uff4e', 'e\u0301'],
    },
    { item: 4, title: 'separators and dots', reject: 'always', values: ['.', '..', '...', '....', 'a\\b', 'x/..', 'x/../..'] },
    { item: 4, title: 'dot names that are literal', reject: 'never-escape', values: ['.hidden', '..hidden', '...hidden'] },
    {
      item: 5,
      title: 'NUL and control characters',
      reject: 'always',
      values: ['a\u0000.txt', 'a\u0000/../../x', 'a\rb', 'a\nb', 'a\tb', '\u001b[2J', 'a\u007f', 'a\u0085', 'a\u2028', 'a\u2029'],
      everywhere: ['a\u0000b', 'x\r\nSet-Cookie: a=b'],
    },
    {
      item: 6,
      title: 'bidi and invisible characters',
      reject: 'always',
      values: ['invoice\u202efdp.exe', 'adm\u200bin', '\ufeffbom', '\u2066x\u2069'],
      everywhere: ['adm\u200bin'],
    },
    {
      item: 7,
      title: 'over-long and deep names',
      reject: 'always',
      values: ['n'.repeat(256), '\u{1F600}'.repeat(64), 'a/'.repeat(2100) + 'a', 'd/'.repeat(70) + 'd'],
      everywhere: ['n'.repeat(5000)],
    },
    {
      item: 8,
      title: 'Windows-isms',
      reject: 'always',
      values: [
        'CON',
        'PRN',
        'AUX',
        'NUL',
        'COM1',
        'LPT1',
        'con.txt',
        'file.txt.',
        'file.txt ',
        'file.txt::$DATA',
        'x:stream',
        'a*b',
        'a?b',
        'a"b',
        'a<b',
        'a>b',
        'a|b',
      ],
      everywhere: ['CON'],
    },
    { item: 8, title: '8.3 short names (literal)', reject: 'never-escape', values: ['PROGRA~1'] },
    { item: 9, title: 'case collisions', reject: 'never-escape', values: ['Report.PDF', 'report.pdf', '\u0130', 'i'], everywhere: ['ALICE', 'Root'] },
    { item: 14, title: 'double extensions and MIME lies', reject: 'never-escape', values: ['x.php.jpg', 'x.jpg.php', 'x.php%00.jpg', 'x.PhP'] },
    { item: 14, title: 'a trailing dot', reject: 'always', values: ['x.php.'] },
    {
      item: 24,
      title: 'type confusion as strings',
      reject: 'never-escape',
      values: ['[object Object]', 'null', 'undefined', 'NaN', '-1', '1e309'],
      everywhere: ['[object Object]', '1e309', '-1', 'true'],
    },
    {
      item: 25,
      title: 'prototype names',
      reject: 'never-escape',
      values: ['__proto__', 'constructor', 'prototype', 'hasOwnProperty'],
      everywhere: ['__proto__', 'constructor'],
    },
    {
      item: 30,
      title: 'redirect targets',
      reject: 'never-escape',
      values: ['//evil.test', '/\\evil.test'],
      everywhere: ['//evil.test', 'javascript:alert(1)', 'https://127.0.0.1@evil.test'],
    },
    {
      item: 31,
      title: 'SSRF targets',
      reject: 'never-escape',
      values: [],
      everywhere: [
        egressUrl,
        'http://127.1/',
        'http://[::1]/',
        'http://169.254.169.254/latest/meta-data/',
        'file:///etc/passwd',
        'gopher://127.0.0.1:6379/_x',
        `http://evil@127.0.0.1:${new URL(egressUrl).port}/`,
      ],
    },
    { item: 33, title: 'header injection in names', reject: 'always', values: ["a\"; filename*=UTF-8''evil.html", 'a\r\nSet-Cookie: sid=x', '" onload=x'] },
    { item: 33, title: 'non-ASCII and ;-names (literal)', reject: 'never-escape', values: ['\u62a5\u544a.pdf', 'a;.html'] },
    {
      item: 34,
      title: 'e-mail header injection',
      reject: 'always',
      values: ['a@x.test\r\nBcc: all@corp'],
      everywhere: ['a@x.test\r\nBcc: all@corp', '"evil" <a@x>, b@y', 'x\nX-Header: y'],
    },
    {
      item: 35,
      title: 'log and CSV injection',
      reject: 'never-escape',
      values: ['=HYPERLINK("http://evil")', "+cmd|' /C calc'!A0", '@SUM(1)', '-2+3'],
      everywhere: ['x\r\n2026-01-01 admin login OK', '=HYPERLINK("http://evil")'],
    },
    {
      item: 36,
      title: 'XSS (refused in names: < > ")',
      reject: 'always',
      values: ['<img src=x onerror=alert(1)>', '"><svg onload=alert(1)>', '</script><script>alert(1)</script>'],
      everywhere: ['<img src=x onerror=alert(1)>', '</script><script>alert(1)</script>'],
    },
    {
      item: 36,
      title: 'XSS that is a legal name',
      reject: 'never-escape',
      values: ["{{constructor.constructor('alert(1)')()}}", '&lt;script&gt;', '[x](javascript:alert(1))'],
    },
    {
      item: 38,
      title: 'template injection',
      reject: 'never-escape',
      values: ['{{7*7}}', '${7*7}', '#{7*7}', '{user_name}', '%username%', '[[${7*7}]]'],
      everywhere: ['{{7*7}}', '${7*7}', '%username%', '<%= 7*7 %>'],
    },
    {
      item: 38,
      title: 'template injection with refused characters',
      reject: 'always',
      values: ['<%= 7*7 %>', '<INCLUDE>/etc/passwd</INCLUDE>', '${{<%[%\'"}}%\\.'],
    },
    {
      item: 39,
      title: 'SQL and command injection',
      reject: 'never-escape',
      values: ["' OR '1'='1", "x'); SELECT pg_sleep(3); -- ", 'x;id', 'x$(id)', 'x`id`', 'x&&id', '-oProxyCommand=id', '--output=x'],
      everywhere: ["' OR '1'='1", "x'||(SELECT pg_sleep(3))||'", 'x;id', '$(id)', '`id`', '-oProxyCommand=id', '*)(uid=*'],
    },
    { item: 39, title: 'command injection with refused characters', reject: 'always', values: ['x|id', 'x\nid'] },
    {
      item: 41,
      title: 'deserialization gadgets',
      reject: 'never-escape',
      values: ['rO0ABXNy', 'AAEAAAD', 'gASV'],
      everywhere: [
        'rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZQ==',
        "_$$ND_FUNC$$_function(){require('child_process').exec('id')}()",
        '!!js/function >',
        'O:8:"stdClass":0:{}',
      ],
    },
    {
      item: 43,
      title: 'ReDoS-shaped input',
      reject: 'always',
      values: ['a'.repeat(50_000) + '!', '/'.repeat(50_000)],
      everywhere: ['a'.repeat(50_000) + '!', '@'.repeat(20_000)],
    },
    { item: 44, title: 'lone surrogates', reject: 'always', values: ['a\ud800b', 'a\udc00'], everywhere: ['a\ud800b'] },
  ];
}

/** Malformed percent-encodings for a URL path (corpus item 44): sent raw, must answer 400. */
export const MALFORMED_URL = ['%', '%zz', '%E0%A4%A', '%C0%AE', '%ED%A0%80', '%FF', 'a%2', '%u002e'];

/** Encoded traversal for a URL path (corpus item 2): sent raw, must never leave the folder. */
export const ENCODED_TRAVERSAL = [
  '%2e%2e%2f%2e%2e%2fbeta%2finbox%2fsecret.txt',
  '%2e%2e/%2e%2e/beta/inbox/secret.txt',
  '..%2f..%2fbeta%2finbox%2fsecret.txt',
  '%2e%2e%5c%2e%2e%5cbeta%5cinbox%5csecret.txt',
  '%252e%252e%252f%252e%252e%252fbeta%252finbox%252fsecret.txt',
  '..%c0%af..%c0%afbeta%c0%afinbox%c0%afsecret.txt',
  '..%c1%9c..%c1%9cbeta',
  '%u002e%u002e%u2215beta',
  '..%ef%bc%8f..%ef%bc%8fbeta%ef%bc%8finbox%ef%bc%8fsecret.txt',
  '..;/..;/beta/inbox/secret.txt',
  '/..;/beta/inbox/secret.txt',
  '/.;/../beta/inbox/secret.txt',
  '%00/../../beta/inbox/secret.txt',
];
