// Every assert.ok here carries a message: without one, a failing assert.ok makes node re-read and
// parse this (tsx-transformed) file to quote the expression, which can hang instead of failing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CoreError, type ErrorCode } from './errors.js';
import {
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  MAX_SEGMENTS,
  ROOT,
  baseName,
  formatPath,
  isAncestorOrSelf,
  isRoot,
  joinPath,
  nameKey,
  parentOf,
  parsePath,
  validateLogin,
  validateName,
  validateOrgName,
} from './paths.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

function rejects(fn: () => unknown, message: RegExp, code: ErrorCode = 'INVALID_PATH'): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CoreError, `expected CoreError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

const seg255 = 'a'.repeat(255);
const path4096 = ('/' + seg255).repeat(16); // exactly 4096 bytes, 16 names of 255 bytes
const path4097 = ('/' + seg255).repeat(15) + '/' + 'a'.repeat(254) + '/b';
const noSlash4096 = 'a'.repeat(254) + ('/' + seg255).repeat(15) + '/b'; // formats to 4097 bytes

describe('parsePath: accepted inputs', () => {
  const cases: Array<[string, string, string[]?]> = [
    ['', '/'],
    ['/', '/'],
    ['///', '/'],
    ['a', '/a'],
    ['/a/b', '/a/b', ['a', 'b']],
    ['a/b', '/a/b'],
    ['a//b', '/a/b'],
    ['//a///b//', '/a/b'],
    ['/a/b/', '/a/b'],
    ['/etc/passwd', '/etc/passwd'], // just a virtual path below the virtual root
    ['.hidden', '/.hidden'],
    ['..hidden', '/..hidden'],
    ['a..b', '/a..b'],
    ['...x', '/...x'],
    ['%2e%2e%2f', '/%2e%2e%2f'], // never decoded here: percent-decoding is the front end's job, once
    ['..;', '/..;'],
    ['a;b', '/a;b'],
    ['PROGRA~1', '/PROGRA~1'],
    ['CONSOLE', '/CONSOLE'],
    ['com10', '/com10'],
    ['lpt', '/lpt'],
    ['auxiliary.txt', '/auxiliary.txt'],
    ['nul_file', '/nul_file'],
    ['a b', '/a b'],
    ['file name.tar.gz', '/file name.tar.gz'],
    ['日本語/ファイル', '/日本語/ファイル'],
    ['なぜ？.txt', '/なぜ？.txt'], // fullwidth '?' is ordinary CJK punctuation, not a Windows wildcard
    ['📁/😀.txt', '/📁/😀.txt'],
    ['ﬁle', '/ﬁle'], // NFC keeps the ligature; it is a different name from 'file'
    ['a\u00A0b', '/a\u00A0b'],
    [seg255, '/' + seg255],
    ['😀'.repeat(63), '/' + '😀'.repeat(63)], // 252 bytes
    [path4096, path4096],
    [Array.from({ length: 64 }, () => 'a').join('/'), '/' + Array.from({ length: 64 }, () => 'a').join('/')],
    ['/' + '/'.repeat(2000) + 'x' + '/'.repeat(2000), '/x'],
  ];
  for (const [input, expected, segments] of cases) {
    it(`${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input)} → ${expected.length > 40 ? expected.slice(0, 40) + '…' : expected}`, () => {
      const p = parsePath(input);
      assert.equal(formatPath(p), expected);
      if (segments) assert.deepEqual(p.segments, segments);
      assert.deepEqual(parsePath(formatPath(p)).segments, p.segments);
    });
  }
});

describe('parsePath: rejected inputs (attack corpus §3 items 1–8)', () => {
  const cases: Array<[string, string, RegExp]> = [
    // 1. plain traversal
    ['dotdot traversal', '../../../../etc/passwd', /'\.' or '\.\.' segment/],
    ['backslash traversal', '..\\..\\..\\..\\windows\\win.ini', /backslash/],
    ['backslash traversal short', '..\\..\\windows\\win.ini', /backslash/],
    ['drive letter', 'C:\\Windows\\win.ini', /backslash|reserved character/],
    ['drive letter with slash', 'C:/Windows/win.ini', /reserved character ':'/],
    ['UNC path', '\\\\127.0.0.1\\c$\\x', /backslash/],
    ['four dots', '....//....//etc/passwd', /only of dots/],
    ['four dots slash', '..../', /only of dots/],
    ['three dots', '.../...//', /only of dots/],
    ['three dots alone', '...', /only of dots/],
    ['parent in middle', '/home/alice/../bob/x', /'\.' or '\.\.' segment/],
    // 4. separators and dots
    ['dot segment', 'a/./b', /'\.' or '\.\.' segment/],
    ['dotdot segment', 'a/../b', /'\.' or '\.\.' segment/],
    ['dot', '.', /'\.' or '\.\.' segment/],
    ['dotdot', '..', /'\.' or '\.\.' segment/],
    ['trailing /.', '/a/.', /'\.' or '\.\.' segment/],
    ['trailing /..', '/a/..', /'\.' or '\.\.' segment/],
    ['backslash in name', 'a\\b', /backslash/],
    // 5. NUL and control characters
    ['NUL', 'a\u0000.txt', /control character/],
    ['NUL then traversal', 'a\u0000/../../x', /control character/],
    ['CR', 'a\rb', /control character/],
    ['LF', 'a\nb', /control character/],
    ['CRLF', 'x\r\nSet-Cookie: y', /control character/],
    ['TAB', 'a\tb', /control character/],
    ['ESC', '\x1b[2J', /control character/],
    ['DEL', 'a\x7fb', /control character/],
    ['NEL U+0085', 'a\u0085b', /control character/],
    ['C1 U+009B', 'a\u009bb', /control character/],
    ['U+2028', 'a\u2028b', /control character/],
    ['U+2029', 'a\u2029b', /control character/],
    // 6. bidi and invisible
    ['RLO', 'invoice\u202Efdp.exe', /bidirectional/],
    ['LRM', 'a\u200Eb', /bidirectional/],
    ['RLM', 'a\u200Fb', /bidirectional/],
    ['LRE', 'a\u202Ab', /bidirectional/],
    ['LRI', 'a\u2066b', /bidirectional/],
    ['PDI', 'a\u2069b', /bidirectional/],
    ['ALM', 'a\u061Cb', /bidirectional/],
    ['ZWSP', 'adm\u200Bin', /invisible/],
    ['ZWNJ', 'a\u200Cb', /invisible/],
    ['ZWJ', 'a\u200Db', /invisible/],
    ['WORD JOINER', 'a\u2060b', /invisible/],
    ['BOM', '\uFEFFadmin', /invisible/],
    ['MVS', 'a\u180Eb', /invisible/],
    ['SHY', 'ad\u00ADmin', /invisible/],
    ['Hangul filler', '\u3164', /invisible/],
    // 3. look-alikes
    ['fullwidth dots and slash', '．．／', /looks like a path separator or dot/],
    ['fullwidth traversal in path', '/a/．．／．．／etc', /looks like/],
    ['fullwidth dot', 'a\uFF0Eb', /looks like/],
    ['fullwidth solidus', 'a\uFF0Fb', /looks like/],
    ['division slash', '..\u2215etc', /looks like/],
    ['fraction slash', 'a\u2044b', /looks like/],
    ['two dot leader', '\u2025', /looks like/],
    ['one dot leader', 'a\u2024', /looks like/],
    ['ellipsis', '\u2026', /looks like/],
    ['vertical two dot leader', '\uFE30', /looks like/],
    ['small full stop', '\uFE52\uFE52', /looks like/],
    ['big solidus', 'a\u29F8b', /looks like/],
    ['fullwidth backslash', 'a\uFF3Cb', /looks like/],
    ['account of (NFKC a/c)', 'a\u2100b', /looks like/],
    ['encoded-then-decoded overlong', '..\uFF0F', /looks like/],
    // 7. over-long and deep
    ['256-byte name', 'a'.repeat(256), /name too long \(max 255 bytes\)/],
    ['255 chars of 4-byte UTF-8', '😀'.repeat(255), /name too long \(max 255 bytes\)/],
    ['64 emoji = 256 bytes', '😀'.repeat(64), /name too long/],
    ['4097-byte path', path4097, /path too long \(max 4096 bytes\)/],
    ['4096 bytes without leading slash (formats to 4097)', noSlash4096, /path too long/],
    ['5000 slashes', '/'.repeat(5000), /path too long/],
    ['huge input', 'a/'.repeat(1_000_000), /path too long/],
    ['65 segments', '/a'.repeat(65), /too deep \(max 64 names\)/],
    ['1000 nested', 'a/'.repeat(1000), /too deep/],
    // 8. Windows-isms
    ['CON', 'CON', /reserved device name/],
    ['con', '/x/con', /reserved device name/],
    ['PRN', 'PRN', /reserved device name/],
    ['AUX', 'aux', /reserved device name/],
    ['NUL', 'Nul', /reserved device name/],
    ['COM1', 'COM1', /reserved device name/],
    ['COM0', 'com0', /reserved device name/],
    ['LPT1', 'LPT1', /reserved device name/],
    ['LPT9', 'lpt9.log', /reserved device name/],
    ['COM superscript', 'COM\u00B9', /reserved device name/],
    ['CONIN$', 'CONIN$', /reserved device name/],
    ['con.txt', 'con.txt', /reserved device name/],
    ['Con.Tar.gz', 'Con.Tar.gz', /reserved device name/],
    ['nul .txt', 'nul .txt', /reserved device name/],
    ['trailing dot', 'file.txt.', /ends with a dot/],
    ['trailing space', 'file.txt ', /whitespace/],
    ['leading space', ' file.txt', /whitespace/],
    ['leading ideographic space', '\u3000file', /whitespace/],
    ['trailing NBSP', 'file\u00A0', /whitespace/],
    ['ADS', 'file.txt::$DATA', /reserved character ':'/],
    ['ADS short', 'x:stream', /reserved character ':'/],
    ['star', 'a*b', /reserved character '\*'/],
    ['question', 'a?b', /reserved character '\?'/],
    ['quote', 'a"b', /reserved character '"'/],
    ['lt', 'a<b', /reserved character '<'/],
    ['gt', 'a>b', /reserved character '>'/],
    ['pipe', 'a|b', /reserved character '\|'/],
    // well-formedness
    ['lone high surrogate', 'a\uD800b', /unpaired surrogate/],
    ['lone low surrogate', 'a\uDC00b', /unpaired surrogate/],
    ['reversed pair', '\uDE00\uD83D', /unpaired surrogate/],
    ['trailing high surrogate', 'abc\uD83D', /unpaired surrogate/],
  ];
  for (const [label, input, message] of cases) {
    it(label, () => {
      rejects(() => parsePath(input), message);
      // resolveDots only changes the handling of '.' and '..' segments; every other rejection stays.
      if (!String(message).includes('segment')) rejects(() => parsePath(input, { resolveDots: true }), message);
    });
  }

  it('non-string input', () => {
    for (const v of [undefined, null, 42, {}, ['a'], Buffer.from('a')]) {
      rejects(() => parsePath(v as unknown as string), /must be a string/);
      rejects(() => validateName(v as unknown as string), /must be a string/);
    }
  });

  it('messages never echo the input', () => {
    for (const input of ['a\u0000<script>', 'x\u202Eevil', 'секрет\u200B', '\x1b[31mred']) {
      try {
        parsePath(input);
        assert.fail('should have thrown');
      } catch (e) {
        assert.ok(e instanceof CoreError, String(e));
        assert.match(e.message, /^[\x20-\x7E]+$/);
        assert.ok(!e.message.includes('script') && !e.message.includes('evil') && !e.message.includes('red'), e.message);
      }
    }
  });
});

describe('parsePath: NFC normalisation', () => {
  it("'é' (U+00E9) and 'e'+U+0301 give identical segments and keys", () => {
    const a = parsePath('/caf\u00E9/r\u00E9sum\u00E9.pdf');
    const b = parsePath('/cafe\u0301/re\u0301sume\u0301.pdf');
    assert.deepEqual(a.segments, b.segments);
    assert.equal(formatPath(a), formatPath(b));
    assert.equal(a.segments[0], 'caf\u00E9');
    assert.equal(nameKey('caf\u00E9'), nameKey('cafe\u0301'));
    assert.equal(nameKey('CAFE\u0301'), nameKey('café'));
    assert.ok(isAncestorOrSelf(a, b) && isAncestorOrSelf(b, a), 'NFC variants must address the same path');
  });
  it('Hangul jamo compose to syllables', () => {
    assert.deepEqual(parsePath('\u1100\u1161\u11A8').segments, ['\uAC01']);
  });
  it('singleton decompositions are applied (Ohm sign → Omega, Angstrom → Å)', () => {
    assert.deepEqual(parsePath('\u2126/\u212B').segments, ['\u03A9', '\u00C5']);
  });
  it('the length limit applies to the NFC form', () => {
    // 128 × 'e'+U+0301 is 384 bytes raw but 256 bytes in NFC: still too long.
    rejects(() => validateName('e\u0301'.repeat(128)), /too long/);
    // 127 × is 381 bytes raw, 254 bytes in NFC: fine.
    assert.equal(bytes(validateName('e\u0301'.repeat(127))), 254);
  });
});

describe('parsePath: resolveDots (SFTP REALPATH only)', () => {
  const cases: Array<[string, string]> = [
    ['/a/b/../c', '/a/c'],
    ['/../../x', '/x'],
    ['../../../../etc/passwd', '/etc/passwd'],
    ['.', '/'],
    ['..', '/'],
    ['', '/'],
    ['/a/./b/.', '/a/b'],
    ['/a/b/..', '/a'],
    ['/a/b/../..', '/'],
    ['/a/b/../../../../..', '/'],
    ['a/./././b', '/a/b'],
    ['/home/alice/../bob/x', '/home/bob/x'],
    ['/..hidden/../.hidden', '/.hidden'],
    ['/' + 'a/'.repeat(65) + '..', '/' + Array.from({ length: 64 }, () => 'a').join('/')],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input.slice(0, 40))} → ${expected.slice(0, 40)}`, () => {
      assert.equal(formatPath(parsePath(input, { resolveDots: true })), expected);
    });
  }
  it('still validates names that a later .. removes', () => {
    rejects(() => parsePath('a\u0000/../../x', { resolveDots: true }), /control character/);
    rejects(() => parsePath('con/../x', { resolveDots: true }), /reserved device/);
    rejects(() => parsePath('.../../x', { resolveDots: true }), /only of dots/);
    rejects(() => parsePath('..\\..\\x', { resolveDots: true }), /backslash/);
    rejects(() => parsePath('．．/x', { resolveDots: true }), /looks like/);
  });
  it('is off by default and with resolveDots: false', () => {
    rejects(() => parsePath('/a/../b', { resolveDots: false }), /segment/);
  });
});

describe('validateName', () => {
  const valid: Array<[string, string]> = [
    ['a', 'a'],
    ['.hidden', '.hidden'],
    ['..hidden', '..hidden'],
    ['a..b', 'a..b'],
    ['file.txt', 'file.txt'],
    ['cafe\u0301', 'caf\u00E9'],
    [seg255, seg255],
    ['-rf', '-rf'],
    ['$HOME', '$HOME'],
    ['名前', '名前'],
  ];
  for (const [input, expected] of valid) {
    it(`accepts ${JSON.stringify(input)}`, () => {
      assert.equal(validateName(input), expected);
      assert.equal(validateName(expected), expected);
    });
  }
  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['.', /'\.' or '\.\.'/],
    ['..', /'\.' or '\.\.'/],
    ['...', /only of dots/],
    ['....', /only of dots/],
    ['a/b', /'\/'/],
    ['/', /'\/'/],
    ['a\\b', /backslash/],
    ['a'.repeat(256), /too long \(max 255 bytes\)/],
    ['a'.repeat(100_000), /too long/],
    ['\u0000', /control/],
    ['invoice\u202Efdp.exe', /bidirectional/],
    ['adm\u200Bin', /invisible/],
    ['．．／', /looks like/],
    ['con.txt', /reserved device/],
    ['file.txt.', /ends with a dot/],
    ['file.txt ', /whitespace/],
    ['x:stream', /reserved character/],
    ['\uD800', /unpaired surrogate/],
  ];
  for (const [input, message] of invalid) {
    it(`rejects ${JSON.stringify(input.length > 20 ? input.slice(0, 20) + '…' : input)}`, () => {
      rejects(() => validateName(input), message);
    });
  }

  it('rejects every listed code point in any position', () => {
    const banned = [
      ...range(0x00, 0x1f),
      0x7f,
      ...range(0x80, 0x9f),
      0x2028,
      0x2029, // controls
      0x200e,
      0x200f,
      ...range(0x202a, 0x202e),
      ...range(0x2066, 0x2069), // bidi
      ...range(0x200b, 0x200d),
      0x2060,
      0xfeff,
      0x180e,
      0x00ad, // invisible
      ...[...'\\/:*?"<>|'].map((c) => c.charCodeAt(0)), // Windows-unsafe
      0xff0e,
      0xff0f,
      0x2215,
      0x2044,
      0x2025,
      0xfe30,
      0xfe52,
      0x29f8,
      0x2024, // look-alikes
    ];
    for (const cp of banned) {
      const c = String.fromCodePoint(cp);
      for (const name of [`a${c}b`, `${c}ab`, `ab${c}`, c]) {
        assert.throws(() => validateName(name), isInvalidPath, `U+${cp.toString(16)} in ${JSON.stringify(name)}`);
      }
    }
  });

  it('rejects every code point whose NFKC form is a separator or dots only (whole Unicode range)', () => {
    let found = 0;
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      const k = c.normalize('NFKC');
      if (k === c) continue;
      if (/[/\\]/.test(k) || /^\.+$/.test(k)) {
        found++;
        assert.throws(() => validateName(`a${c}b`), isInvalidPath, `U+${cp.toString(16)} (NFKC ${JSON.stringify(k)})`);
      }
    }
    assert.ok(found >= 14, `expected at least 14 such code points, found ${found}`);
  });

  it('never throws anything but INVALID_PATH for any single BMP character', () => {
    for (let cp = 0; cp <= 0xffff; cp++) {
      const c = String.fromCharCode(cp);
      try {
        const n = validateName(`x${c}y`);
        assert.equal(validateName(n), n);
      } catch (e) {
        assert.ok(isInvalidPath(e), `U+${cp.toString(16)}: ${String(e)}`);
      }
    }
  });
});

describe('nameKey: case-preserving, unique case-insensitively', () => {
  const same: Array<[string, string]> = [
    ['Alice', 'alice'],
    ['Report.PDF', 'report.pdf'],
    ['ÄRGER.txt', 'ärger.txt'],
    ['ÉTÉ', 'e\u0301te\u0301'],
    ['I', 'i'],
    ['ΟΔΟΣ', 'οδος'],
    ['ΟΔΟΣ', 'οδοσ'],
    ['ΣΑΣ.txt', 'σας.txt'],
  ];
  for (const [a, b] of same) {
    it(`${a} ≡ ${b}`, () => assert.equal(nameKey(validateName(a)), nameKey(validateName(b))));
  }
  const different: Array<[string, string]> = [
    ['İ', 'i'], // U+0130 lowercases to 'i' + U+0307, never to plain 'i'
    ['İ', 'I'],
    ['ı', 'i'], // dotless i is its own letter
    ['ı', 'I'],
    ['ﬁle', 'file'], // NFC, not NFKC: the ligature is a different name
    ['a', 'b'],
  ];
  for (const [a, b] of different) {
    it(`${a} ≢ ${b}`, () => assert.notEqual(nameKey(validateName(a)), nameKey(validateName(b))));
  }
  it('Turkish İ is handled the same way every time (no locale dependence)', () => {
    assert.equal(nameKey('İstanbul'), nameKey('İSTANBUL'));
    assert.equal(nameKey('İstanbul'), nameKey('i\u0307stanbul'));
    assert.equal(nameKey('İstanbul'), 'i\u0307stanbul');
  });
  it('names keep their case', () => {
    assert.deepEqual(parsePath('/Acme/Inbox/Report.PDF').segments, ['Acme', 'Inbox', 'Report.PDF']);
  });
});

describe('path helpers', () => {
  it('formatPath', () => {
    assert.equal(formatPath(ROOT), '/');
    assert.equal(formatPath(parsePath('a/b')), '/a/b');
  });
  it('joinPath validates and normalises the name', () => {
    assert.equal(formatPath(joinPath(ROOT, 'a')), '/a');
    assert.equal(formatPath(joinPath(parsePath('/a'), 'cafe\u0301')), '/a/caf\u00E9');
    rejects(() => joinPath(ROOT, 'a/b'), /'\/'/);
    rejects(() => joinPath(ROOT, '..'), /'\.' or '\.\.'/);
    rejects(() => joinPath(ROOT, ''), /empty/);
    rejects(() => joinPath(ROOT, 'a\\b'), /backslash/);
  });
  it('joinPath enforces depth and length', () => {
    const deep = parsePath('/a'.repeat(MAX_SEGMENTS));
    rejects(() => joinPath(deep, 'b'), /too deep/);
    const long = parsePath(path4096.slice(0, -2)); // 4094 bytes
    assert.equal(formatPath(joinPath(parsePath(('/' + seg255).repeat(15)), 'a'.repeat(255))), path4096);
    rejects(() => joinPath(long, 'bb'), /path too long/);
  });
  it('parentOf / baseName / isRoot', () => {
    const p = parsePath('/a/b/c');
    assert.equal(formatPath(parentOf(p)), '/a/b');
    assert.equal(formatPath(parentOf(parsePath('/a'))), '/');
    assert.equal(baseName(p), 'c');
    assert.ok(isRoot(ROOT) && isRoot(parsePath('/')) && isRoot(parsePath('')), 'root');
    assert.ok(!isRoot(p), 'not root');
    rejects(() => parentOf(ROOT), /root/);
    rejects(() => baseName(ROOT), /root/);
  });
  it('isAncestorOrSelf', () => {
    const P = (s: string) => parsePath(s);
    const yes: Array<[string, string]> = [
      ['/', '/'],
      ['/', '/a/b'],
      ['/a', '/a'],
      ['/a', '/a/b/c'],
      ['/Acme', '/acme/inbox'],
      ['/acme/inbox', '/ACME/Inbox'],
      ['/caf\u00E9', '/cafe\u0301/x'],
    ];
    const no: Array<[string, string]> = [
      ['/a/b', '/a'],
      ['/a', '/'],
      ['/ab', '/abc'],
      ['/a', '/b/a'],
      ['/a/b', '/a/c'],
      ['/İ', '/i'],
    ];
    for (const [a, b] of yes) assert.ok(isAncestorOrSelf(P(a), P(b)), `${a} ⊒ ${b}`);
    for (const [a, b] of no) assert.ok(!isAncestorOrSelf(P(a), P(b)), `${a} ⋣ ${b}`);
  });
  it('VPaths are immutable', () => {
    const p = parsePath('/a/b');
    assert.throws(() => (p.segments as string[]).push('..'), TypeError);
    assert.throws(() => {
      (p as { segments: readonly string[] }).segments = ['..'];
    }, TypeError);
    assert.throws(() => (ROOT.segments as string[]).push('x'), TypeError);
    assert.equal(formatPath(p), '/a/b');
  });
  it('limits are the documented ones', () => {
    assert.equal(MAX_NAME_BYTES, 255);
    assert.equal(MAX_PATH_BYTES, 4096);
    assert.equal(MAX_SEGMENTS, 64);
  });
});

describe('validateLogin', () => {
  const valid: Array<[string, string]> = [
    ['alice', 'alice'],
    ['Alice', 'alice'],
    ['ALICE', 'alice'],
    ['  bob@example.com ', 'bob@example.com'],
    ['a.b_c-d@e', 'a.b_c-d@e'],
    ['0day', '0day'],
    ['a'.repeat(64), 'a'.repeat(64)],
    [' ' + 'A'.repeat(64) + ' ', 'a'.repeat(64)],
  ];
  for (const [input, expected] of valid) {
    it(`accepts ${JSON.stringify(input.slice(0, 30))}`, () => {
      assert.equal(validateLogin(input), expected);
      assert.equal(validateLogin(expected), expected);
    });
  }
  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['a'.repeat(65), /too long \(max 64/],
    ['a'.repeat(10_000), /too long/],
    ['alice\n', /control/],
    ['alice\r\n', /control/],
    ['\talice', /control/],
    ['al\u0000ice', /control/],
    ['al\u0085ice', /control/],
    ['al\u001bice', /control/],
    ['al ice', /may contain only/],
    ['alice:x', /may contain only/],
    ['alice/x', /may contain only/],
    ['alice\\x', /may contain only/],
    ['alice*', /may contain only/],
    ['\u212Aelvin', /may contain only/], // KELVIN SIGN lowercases to ASCII 'k'
    ['\u0130nci', /may contain only/], // Turkish İ
    ['ﬁle', /may contain only/],
    ['ａｄｍｉｎ', /may contain only/],
    ['adm\u200Bin', /may contain only/],
    ['\uFEFFadmin', /may contain only/],
    ['jöhn', /may contain only/],
    ['-rf', /start with a letter or digit/],
    ['.alice', /start with a letter or digit/],
    ['@alice', /start with a letter or digit/],
    ['\uD800', /may contain only/],
  ];
  for (const [input, message] of invalid) {
    it(`rejects ${JSON.stringify(input.slice(0, 20))}`, () => rejects(() => validateLogin(input), message, 'INVALID_INPUT'));
  }
  it('non-string', () => rejects(() => validateLogin(7 as unknown as string), /must be a string/, 'INVALID_INPUT'));
});

describe('validateOrgName', () => {
  const valid: Array<[string, string]> = [
    ['Acme', 'Acme'],
    ['Acme GmbH & Co. KG', 'Acme GmbH & Co. KG'],
    ['Cafe\u0301 Müller', 'Caf\u00E9 Müller'],
    ['x'.repeat(100), 'x'.repeat(100)],
    ['日本'.repeat(40), '日本'.repeat(40)], // 80 chars, 240 bytes
  ];
  for (const [input, expected] of valid) {
    it(`accepts ${JSON.stringify(input.slice(0, 30))}`, () => assert.equal(validateOrgName(input), expected));
  }
  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['x'.repeat(101), /too long \(max 100 characters\)/],
    ['😀'.repeat(64), /too long \(max 255 bytes\)/],
    ['acme/x', /'\/'/],
    ['acme:x', /reserved character ':'/],
    ['acme\\x', /backslash/],
    ['ac\u0000me', /control/],
    ['ac\nme', /control/],
    ['acme\u202E', /bidirectional/],
    ['ac\u200Bme', /invisible/],
    [' Acme', /whitespace/],
    ['Acme ', /whitespace/],
    ['Acme.', /ends with a dot/],
    ['..', /'\.' or '\.\.'/],
    ['CON', /reserved device/],
    ['．．', /looks like/],
  ];
  for (const [input, message] of invalid) {
    it(`rejects ${JSON.stringify(input.slice(0, 20))}`, () => rejects(() => validateOrgName(input), message, 'INVALID_INPUT'));
  }
  it('org names collide case-insensitively through nameKey', () => {
    assert.equal(nameKey(validateOrgName('ACME')), nameKey(validateOrgName('acme')));
  });
});

// ---------------------------------------------------------------------------------------------
// Property-based tests

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

function isInvalidPath(e: unknown): boolean {
  return e instanceof CoreError && e.code === 'INVALID_PATH' && /^[\x20-\x7E]{1,160}$/.test(e.message);
}

const NFC = (s: string) => s.normalize('NFC') === s;
const CONTROL_CHAR = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]/;

const interesting = [
  '/',
  '/',
  '/',
  '\\',
  '.',
  '..',
  '...',
  '.hidden',
  'a',
  'B',
  'é',
  'e\u0301',
  'E\u0301',
  '\u0301',
  '\u0000',
  '\n',
  '\r',
  '\t',
  '\x1b',
  '\x7f',
  '\u0085',
  '\u2028',
  '\u202E',
  '\u200B',
  '\uFEFF',
  '\u00AD',
  '\uFF0E',
  '\uFF0F',
  '\u2215',
  '\u2025',
  '\u2100',
  'con',
  'CON.txt',
  'com1',
  ' ',
  '\u3000',
  '\u00A0',
  ':',
  '*',
  '?',
  '"',
  '<',
  '>',
  '|',
  '\uD800',
  '\uDC00',
  '\uD83D\uDE00',
  'İ',
  'ı',
  'ς',
  'Σ',
  '\u1100',
  '\u1161',
  '\u11A8',
  '\u2126',
  '\u0958',
  '%2e',
  '%2f',
  ';',
  '~',
  'PROGRA~1',
];

const pathLike = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...interesting), { maxLength: 12 }).map((a) => a.join('')) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.oneof(fc.constantFrom(...interesting), fc.string({ unit: 'grapheme-ascii', maxLength: 6 })), { maxLength: 10 })
      .map((a) => a.join('/')),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 30 }) },
  // near the 4096-byte / 64-name / 255-byte limits (about half of these parse)
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.oneof({ weight: 30, arbitrary: fc.constantFrom('a', 'b', 'é', 'e\u0301', '😀', '.x') }, { weight: 1, arbitrary: fc.constant('/') }),
      minLength: 1300,
      maxLength: 1900,
    }),
  },
);

function checkParsed(input: string, resolveDots: boolean): void {
  let p;
  try {
    p = parsePath(input, { resolveDots });
  } catch (e) {
    assert.ok(isInvalidPath(e), `unexpected throw for ${JSON.stringify(input)}: ${String(e)}`);
    return;
  }
  assert.ok(p.segments.length <= MAX_SEGMENTS, 'too many segments');
  for (const s of p.segments) {
    assert.equal(validateName(s), s);
    assert.ok(!s.includes('/') && !s.includes('\\'), 'separator in segment');
    assert.ok(!CONTROL_CHAR.test(s), 'control char in segment');
    assert.ok(s !== '.' && s !== '..' && s !== '', 'dot or empty segment');
    assert.ok(NFC(s), 'segment not NFC');
    assert.ok(bytes(s) <= MAX_NAME_BYTES, 'segment too long');
  }
  const formatted = formatPath(p);
  assert.ok(bytes(formatted) <= MAX_PATH_BYTES, 'path too long');
  assert.deepEqual(parsePath(formatted).segments, p.segments, 'formatPath does not re-parse to the same path');
  assert.equal(formatPath(parsePath(formatted)), formatted);
}

describe('properties (fast-check)', () => {
  it('parsePath: INVALID_PATH or a valid, NFC, idempotent path — nothing else (20,000 runs)', () => {
    fc.assert(
      fc.property(pathLike, (s) => checkParsed(s, false)),
      { numRuns: 20_000 },
    );
  });

  it('parsePath with resolveDots: same guarantees, and agrees with plain parsing when there are no dots', () => {
    fc.assert(
      fc.property(pathLike, fc.nat(5), (s, ups) => {
        checkParsed(s, true);
        let plain;
        try {
          plain = parsePath(s);
        } catch {
          return;
        }
        assert.deepEqual(parsePath(s, { resolveDots: true }).segments, plain.segments);
        // '..' at the root clamps: any number of leading '../' cannot escape or change the result
        assert.deepEqual(parsePath('../'.repeat(ups) + formatPath(plain), { resolveDots: true }).segments, plain.segments);
      }),
      { numRuns: 5_000 },
    );
  });

  it('validateName: INVALID_PATH or an idempotent NFC name that parses as a single segment', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 30 }),
          fc.array(fc.constantFrom(...interesting), { maxLength: 6 }).map((a) => a.join('')),
        ),
        (s) => {
          let n;
          try {
            n = validateName(s);
          } catch (e) {
            assert.ok(isInvalidPath(e), `unexpected throw for ${JSON.stringify(s)}: ${String(e)}`);
            return;
          }
          assert.equal(validateName(n), n);
          assert.ok(NFC(n), 'name not NFC');
          assert.equal(n, s.normalize('NFC'));
          assert.deepEqual(parsePath('/' + n).segments, [n]);
          assert.deepEqual(joinPath(ROOT, s).segments, [n]);
          assert.equal(nameKey(n), nameKey(s.normalize('NFD').normalize('NFC')));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('nameKey ignores ASCII case', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 20 }), (s) => {
        assert.equal(nameKey(s.toUpperCase()), nameKey(s.toLowerCase()));
      }),
      { numRuns: 2_000 },
    );
  });

  it('validateLogin: INVALID_INPUT or a canonical, idempotent ASCII login', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 70 }), fc.string({ unit: 'grapheme-ascii', maxLength: 70 })), (s) => {
        let l;
        try {
          l = validateLogin(s);
        } catch (e) {
          assert.ok(e instanceof CoreError && e.code === 'INVALID_INPUT', String(e));
          return;
        }
        assert.match(l, /^[a-z0-9][a-z0-9._@-]{0,63}$/);
        assert.equal(validateLogin(l), l);
        assert.equal(validateLogin(l.toUpperCase()), l);
      }),
      { numRuns: 3_000 },
    );
  });
});
