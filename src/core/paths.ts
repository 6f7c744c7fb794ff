/**
 * Virtual paths and names: the one parser for every client-supplied path (HTTP, SFTP, CLI).
 *
 * Invariants this module guarantees (and the rest of the core relies on):
 * - A `VPath` only exists if it came out of this module, so holding one means: absolute from the
 *   virtual root, at most MAX_SEGMENTS names, formatted form at most MAX_PATH_BYTES UTF-8 bytes,
 *   and every segment is a valid name (see `validateName`) in NFC. There is no '.', '..', empty
 *   segment, '/', '\', control, bidi or invisible character anywhere in a VPath.
 * - Parsing happens exactly once, here. Front ends decode their transport encoding (percent
 *   encoding, SFTP UTF-8) and hand the resulting string to `parsePath`; nothing downstream splits,
 *   joins or normalises path strings itself.
 * - Names are case-preserving and unique case-insensitively: two names collide when their
 *   `nameKey` is equal. Names never touch a filesystem; they live in the database only.
 */
import { CoreError } from './errors.js';

declare const vpathBrand: unique symbol;

/** A parsed, normalised virtual path; "/" is zero segments. Only this module creates VPaths. */
export type VPath = { readonly segments: readonly string[] } & { readonly [vpathBrand]: true };

export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 4096;
export const MAX_SEGMENTS = 64;
export const MAX_LOGIN_LENGTH = 64;
export const MAX_ORG_NAME_LENGTH = 100;

const fail = (message: string): never => {
  throw new CoreError('INVALID_PATH', message);
};
const failInput = (message: string): never => {
  throw new CoreError('INVALID_INPUT', message);
};

function mint(segments: readonly string[]): VPath {
  return Object.freeze({ segments: Object.freeze([...segments]) }) as unknown as VPath;
}

/** The virtual root "/". */
export const ROOT: VPath = mint([]);

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

// Unpaired high surrogate, or low surrogate not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// C0 controls, DEL, C1 controls (includes U+0085 NEL), LINE SEPARATOR, PARAGRAPH SEPARATOR.
const CONTROL = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]/;
// Bidi controls: LRM, RLM, LRE..RLO, LRI..PDI, and ARABIC LETTER MARK (U+061C).
const BIDI = /[\u200E\u200F\u202A-\u202E\u2066-\u2069\u061C]/;
// Zero-width / invisible: ZWSP, ZWNJ, ZWJ, WORD JOINER, invisible operators (U+2061-2064), BOM,
// MONGOLIAN VOWEL SEPARATOR, SOFT HYPHEN, COMBINING GRAPHEME JOINER, Hangul fillers (render blank),
// interlinear annotation controls.
const INVISIBLE = /[\u200B-\u200D\u2060-\u2064\uFEFF\u180E\u00AD\u034F\u115F\u1160\u3164\uFFA0\uFFF9-\uFFFB]/;
// Characters that are unsafe in Windows names or that act as separators/stream markers somewhere.
const RESERVED_ASCII = /[\\/:*?"<>|]/;
/**
 * Look-alike separators and dots that could be mistaken for traversal, by a human or by a later
 * compatibility (NFKC) normalisation: every code point whose NFKC form contains '/' or '\' or is
 * made of dots only (U+2024-2026, U+2100/2101/2105/2106, U+FE19, U+FE30, U+FE52, U+FE68, U+FF0E,
 * U+FF0F, U+FF3C — a test checks this list against the whole Unicode range), plus visual
 * slash/backslash look-alikes without a compatibility mapping (U+2044, U+2215, U+2216, U+29F5,
 * U+29F8, U+29F9, U+2571, U+2572, U+27CB, U+27CD, U+1735).
 */
const LOOKALIKE =
  /[\u2024-\u2026\u2100\u2101\u2105\u2106\uFE19\uFE30\uFE52\uFE68\uFF0E\uFF0F\uFF3C\u2044\u2215\u2216\u29F5\u29F8\u29F9\u2571\u2572\u27CB\u27CD\u1735]/;
const EDGE_WHITESPACE = /^\s|\s$/u;
const ONLY_DOTS = /^\.+$/;
// Windows device names, case-insensitive, also with an extension and with spaces before the dot
// ("con.txt", "NUL .tar.gz"), including the superscript-digit COM/LPT forms Windows reserves.
const WINDOWS_DEVICE = /^(?:CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9\u00B9\u00B2\u00B3]|LPT[0-9\u00B9\u00B2\u00B3]) *(?:\..*)?$/i;

type Subject = 'name' | 'path' | 'organisation name';

/**
 * Checks one name and returns its NFC form. `subject` only words the message: character-level
 * problems are reported against the whole input ("path contains …") when parsing a path.
 */
function checkName(raw: string, subject: Subject): string {
  const noun = subject === 'path' ? 'name' : subject;
  if (typeof raw !== 'string') return fail(`${noun} must be a string`);
  if (raw.length === 0) return fail(`${noun} is empty`);
  // Cheap bound before normalising: NFC shrinks UTF-8 by at most 3x (Hangul jamo), and every
  // UTF-16 unit is at least one UTF-8 byte.
  if (raw.length > MAX_NAME_BYTES * 3) return fail(`${noun} too long (max ${MAX_NAME_BYTES} bytes)`);
  if (LONE_SURROGATE.test(raw)) return fail(`${subject} is not valid Unicode (unpaired surrogate)`);
  const name = raw.normalize('NFC');
  if (name === '.' || name === '..') return fail(`${noun} must not be '.' or '..'`);
  if (utf8Bytes(name) > MAX_NAME_BYTES) return fail(`${noun} too long (max ${MAX_NAME_BYTES} bytes)`);
  if (CONTROL.test(name)) return fail(`${subject} contains a control character`);
  if (BIDI.test(name)) return fail(`${subject} contains a bidirectional control character`);
  if (INVISIBLE.test(name)) return fail(`${subject} contains an invisible character`);
  if (name.includes('\\')) return fail(`${subject} contains a backslash (only '/' separates names)`);
  if (name.includes('/')) return fail(`${noun} contains '/'`);
  const reserved = RESERVED_ASCII.exec(name);
  if (reserved) return fail(`${subject} contains a reserved character '${reserved[0]}' (not allowed: \\ / : * ? " < > |)`);
  if (LOOKALIKE.test(name)) return fail(`${subject} contains a character that looks like a path separator or dot`);
  if (EDGE_WHITESPACE.test(name)) return fail(`${noun} starts or ends with whitespace`);
  if (ONLY_DOTS.test(name)) return fail(`${noun} consists only of dots`);
  if (name.endsWith('.')) return fail(`${noun} ends with a dot`);
  if (WINDOWS_DEVICE.test(name)) return fail(`${noun} is a reserved device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9)`);
  return name;
}

/**
 * Validates one name (a single path segment) and returns its NFC form.
 * MUST hold for every returned value n: n is NFC, 1..255 UTF-8 bytes, not '.'/'..'/dots-only, has
 * no '/', '\', ':*?"<>|', control (C0, DEL, C1, U+2028/9), bidi or invisible character, no
 * look-alike separator/dot, no leading/trailing whitespace, no trailing dot, is not a Windows
 * device name, and validateName(n) === n. Anything else throws CoreError INVALID_PATH.
 */
export function validateName(name: string): string {
  return checkName(name, 'name');
}

/**
 * Parses a client-supplied path into a VPath. The ONLY way client input becomes a path.
 * MUST hold: throws only CoreError('INVALID_PATH'); '/' is the only separator (a backslash is
 * never a separator, it is rejected); the result is absolute from the virtual root (a leading
 * '/' is optional, '' and '/' are the root); repeated and trailing slashes are ignored; every
 * segment satisfies validateName and is NFC; at most MAX_SEGMENTS segments; the input and the
 * formatted result are each at most MAX_PATH_BYTES UTF-8 bytes; formatPath(result) parses back to
 * the same segments.
 * '.' and '..' segments are rejected, unless `resolveDots` is set (for SFTP REALPATH only): then
 * '.' is dropped and '..' removes the previous segment, clamped at the root (never escapes it).
 * Every other segment is validated even if a later '..' removes it.
 */
export function parsePath(input: string, opts: { resolveDots?: boolean } = {}): VPath {
  if (typeof input !== 'string') return fail('path must be a string');
  // UTF-8 length >= UTF-16 length, so this bounds the work before anything is scanned.
  if (input.length > MAX_PATH_BYTES) return fail(`path too long (max ${MAX_PATH_BYTES} bytes)`);
  if (LONE_SURROGATE.test(input)) return fail('path is not valid Unicode (unpaired surrogate)');
  if (utf8Bytes(input) > MAX_PATH_BYTES) return fail(`path too long (max ${MAX_PATH_BYTES} bytes)`);
  const resolveDots = opts.resolveDots === true;
  const segments: string[] = [];
  for (const raw of input.split('/')) {
    if (raw === '') continue;
    if (raw === '.' || raw === '..') {
      if (!resolveDots) return fail("path contains a '.' or '..' segment");
      if (raw === '..') segments.pop();
      continue;
    }
    segments.push(checkName(raw, 'path'));
  }
  if (segments.length > MAX_SEGMENTS) return fail(`path too deep (max ${MAX_SEGMENTS} names)`);
  const p = mint(segments);
  if (utf8Bytes(formatPath(p)) > MAX_PATH_BYTES) return fail(`path too long (max ${MAX_PATH_BYTES} bytes)`);
  return p;
}

/** '/a/b' for segments ['a','b'], '/' for the root. Output always re-parses to the same VPath. */
export function formatPath(p: VPath): string {
  return '/' + p.segments.join('/');
}

/**
 * p + one name. MUST hold: `name` is validated (validateName) and stored in NFC; the result obeys
 * the same depth and length limits as parsePath. Throws CoreError INVALID_PATH otherwise. `name`
 * is a single name: 'a/b' is rejected, not split.
 */
export function joinPath(p: VPath, name: string): VPath {
  const segment = validateName(name);
  if (p.segments.length + 1 > MAX_SEGMENTS) return fail(`path too deep (max ${MAX_SEGMENTS} names)`);
  const next = mint([...p.segments, segment]);
  if (utf8Bytes(formatPath(next)) > MAX_PATH_BYTES) return fail(`path too long (max ${MAX_PATH_BYTES} bytes)`);
  return next;
}

/** True for '/'. */
export function isRoot(p: VPath): boolean {
  return p.segments.length === 0;
}

/** The containing folder. The root has no parent: throws CoreError INVALID_PATH (check isRoot). */
export function parentOf(p: VPath): VPath {
  if (isRoot(p)) return fail('the root folder has no parent');
  return mint(p.segments.slice(0, -1));
}

/** The last name of p. The root has no name: throws CoreError INVALID_PATH (check isRoot). */
export function baseName(p: VPath): string {
  const last = p.segments[p.segments.length - 1];
  if (last === undefined) return fail('the root folder has no name');
  return last;
}

/**
 * True when b is a or lies below a. MUST compare names the way uniqueness does (nameKey), so that
 * '/Acme' and '/acme/x' — which address the same folder — are never treated as unrelated by an
 * access check. Segment-wise: '/ab' is not an ancestor of '/abc'.
 */
export function isAncestorOrSelf(a: VPath, b: VPath): boolean {
  if (a.segments.length > b.segments.length) return false;
  for (let i = 0; i < a.segments.length; i++) {
    if (nameKey(a.segments[i] as string) !== nameKey(b.segments[i] as string)) return false;
  }
  return true;
}

/**
 * The comparison key for names (and organisation names): two names in one folder collide iff
 * their keys are equal. Names are case-preserving (stored as given, in NFC) and unique
 * case-insensitively. The key is NFC -> String.prototype.toLowerCase() (the locale-independent
 * Unicode default mapping, the same as toLocaleLowerCase('und')) -> NFC, with final sigma 'ς'
 * folded to 'σ' so the key does not depend on where a sigma stands. Turkish letters are handled
 * consistently because every name goes through this one function: 'I' and 'i' collide, 'İ'
 * (U+0130, lowercases to 'i̇') and 'ı' (U+0131) are distinct from both. The key is never shown
 * to users. Callers pass names that already passed validateName.
 */
export function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase().normalize('NFC').replace(/ς/g, 'σ');
}

/**
 * Canonicalises a login: returns it trimmed (spaces) and lowercased. MUST hold for the result:
 * 1..64 characters of [a-z0-9._@-], starting with a letter or digit (so a login can never be
 * read as a command-line option). Every non-printable-ASCII character, including control
 * characters and all of Unicode, is rejected BEFORE lowercasing, so look-alikes such as the
 * Kelvin sign (which lowercases to 'k') cannot alias an ASCII login. Throws CoreError
 * INVALID_INPUT. Use the returned form for authentication, ACLs and display alike.
 */
export function validateLogin(login: string): string {
  if (typeof login !== 'string') return failInput('login must be a string');
  if (login.length > 4 * MAX_LOGIN_LENGTH) return failInput(`login too long (max ${MAX_LOGIN_LENGTH} characters)`);
  if (CONTROL.test(login)) return failInput('login contains a control character');
  if (/[^\x20-\x7E]/.test(login)) return failInput("login may contain only a-z, 0-9, '.', '_', '@' and '-'");
  const canonical = login.trim().toLowerCase();
  if (canonical.length === 0) return failInput('login is empty');
  if (canonical.length > MAX_LOGIN_LENGTH) return failInput(`login too long (max ${MAX_LOGIN_LENGTH} characters)`);
  if (!/^[a-z0-9._@-]+$/.test(canonical)) return failInput("login may contain only a-z, 0-9, '.', '_', '@' and '-'");
  if (!/^[a-z0-9]/.test(canonical)) return failInput('login must start with a letter or digit');
  return canonical;
}

/**
 * Validates an organisation name and returns its NFC form. MUST hold for the result: everything
 * validateName guarantees (org names become folder-like identifiers in URLs and CLI output), and
 * at most 100 characters (code points). Uniqueness is case-insensitive via nameKey. Throws
 * CoreError INVALID_INPUT.
 */
export function validateOrgName(name: string): string {
  let nfc: string;
  try {
    nfc = checkName(name, 'organisation name');
  } catch (e) {
    if (e instanceof CoreError) return failInput(e.message);
    throw e;
  }
  if ([...nfc].length > MAX_ORG_NAME_LENGTH) {
    return failInput(`organisation name too long (max ${MAX_ORG_NAME_LENGTH} characters)`);
  }
  return nfc;
}
