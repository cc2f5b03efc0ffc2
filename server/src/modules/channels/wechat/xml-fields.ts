/**
 * A linear-time reader for WeChat's flat push XML: one root element whose children are leaves
 * holding text and CDATA. Every byte is looked at a bounded number of times (indexOf and one
 * cursor, no regex over the body), so a hostile body costs time in proportion to its size.
 * No DTD, no entities beyond the five predefined ones and character references; CDATA is taken
 * verbatim; attributes are skipped; nested elements are checked for well-formedness and their
 * parent field is dropped (they are not part of the push format).
 */
import { AppError } from '../../../errors';

export type PushFields = Record<string, string>;

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
/** Nesting deeper than this is no push: refuse rather than walk it. */
const MAX_DEPTH = 32;

function isNameStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x3a;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;
}

function bad(why: string): AppError {
  return new AppError('WECHAT_BAD_PAYLOAD', undefined, { reason: why });
}

class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  /** Moves past the next `s`; throws when there is none. */
  skipPast(s: string, what: string): number {
    const at = this.text.indexOf(s, this.pos);
    if (at < 0) throw bad(`unterminated ${what}`);
    this.pos = at + s.length;
    return at;
  }

  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.pos++;
    }
  }

  name(): string {
    const t = this.text;
    const start = this.pos;
    if (!isNameStart(t.charCodeAt(start))) throw bad('malformed XML: bad tag name');
    this.pos++;
    while (this.pos < t.length && isNameChar(t.charCodeAt(this.pos))) this.pos++;
    return t.slice(start, this.pos);
  }

  /** After a tag name: skips attributes (quoted values may hold `>`); true for `/>`. */
  tagEnd(): boolean {
    const t = this.text;
    for (;;) {
      if (this.pos >= t.length) throw bad('malformed XML: unterminated tag');
      const c = t[this.pos]!;
      if (c === '>') {
        this.pos++;
        return false;
      }
      if (c === '/' && t[this.pos + 1] === '>') {
        this.pos += 2;
        return true;
      }
      if (c === '"' || c === "'") {
        this.pos++;
        this.skipPast(c, 'attribute value');
        continue;
      }
      if (c === '<') throw bad('malformed XML: "<" inside a tag');
      this.pos++;
    }
  }
}

/** Markup that is neither an element nor text: comments, processing instructions, CDATA. */
function skipMisc(cur: Cursor): boolean {
  if (cur.startsWith('<!--')) {
    cur.pos += 4;
    cur.skipPast('-->', 'comment');
    return true;
  }
  if (cur.startsWith('<?')) {
    cur.pos += 2;
    cur.skipPast('?>', 'processing instruction');
    return true;
  }
  if (cur.startsWith('<!')) throw bad('XML with a DOCTYPE, ENTITY or other declaration');
  return false;
}

/** Plain text with the predefined entities and character references decoded. */
function decodeText(raw: string): string {
  let amp = raw.indexOf('&');
  if (amp < 0) return raw;
  let out = '';
  let from = 0;
  while (amp >= 0) {
    // A reference is short: look for its ';' nearby only, so "&&&&…" stays linear.
    let semi = -1;
    for (let i = amp + 1; i < raw.length && i <= amp + 10; i++) {
      const c = raw.charCodeAt(i);
      if (c === 0x3b) semi = i;
      if (c === 0x3b || c === 0x26) break;
    }
    const decoded = semi < 0 ? null : decodeRef(raw.slice(amp + 1, semi));
    // Not a reference we know: kept as written (never looked up, never expanded).
    if (decoded !== null) {
      out += raw.slice(from, amp) + decoded;
      from = semi + 1;
    }
    amp = raw.indexOf('&', decoded !== null ? semi + 1 : amp + 1);
  }
  return out + raw.slice(from);
}

function decodeRef(ref: string): string | null {
  const named = NAMED[ref];
  if (named !== undefined) return named;
  let code = NaN;
  if (/^#[0-9]{1,7}$/.test(ref)) code = Number(ref.slice(1));
  else if (/^#x[0-9a-fA-F]{1,6}$/.test(ref)) code = Number.parseInt(ref.slice(2), 16);
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : null;
}

/**
 * Reads an element's content up to its end tag. Returns the leaf text (text with references
 * decoded, CDATA verbatim), or null when the element has element children.
 */
function readContent(cur: Cursor, name: string, depth: number): string | null {
  if (depth > MAX_DEPTH) throw bad('XML nested too deeply');
  const t = cur.text;
  let text = '';
  let leaf = true;
  for (;;) {
    const lt = t.indexOf('<', cur.pos);
    if (lt < 0) throw bad(`malformed XML: <${name}> is not closed`);
    // Text around CDATA is trimmed (pretty-printed pushes); CDATA itself is verbatim.
    text += decodeText(t.slice(cur.pos, lt).trim());
    cur.pos = lt;
    if (cur.startsWith('<![CDATA[')) {
      cur.pos += 9;
      const end = cur.skipPast(']]>', 'CDATA section');
      text += t.slice(lt + 9, end);
      continue;
    }
    if (cur.startsWith('</')) {
      cur.pos += 2;
      if (cur.name() !== name) throw bad(`malformed XML: mismatched </…> for <${name}>`);
      cur.skipSpace();
      if (t[cur.pos] !== '>') throw bad('malformed XML: bad end tag');
      cur.pos++;
      return leaf ? text : null;
    }
    if (skipMisc(cur)) continue;
    cur.pos++;
    const child = cur.name();
    leaf = false;
    if (!cur.tagEnd()) readContent(cur, child, depth + 1);
  }
}

/** Parses `<xml>…</xml>` into its top-level leaf fields; anything malformed is refused. */
export function parseXmlFields(xml: string): PushFields {
  const cur = new Cursor(xml);
  const t = xml;
  // Prolog: declaration, comments, white space.
  for (;;) {
    cur.skipSpace();
    if (!skipMisc(cur)) break;
  }
  if (t[cur.pos] !== '<') throw bad('malformed XML');
  cur.pos++;
  const root = cur.name();
  if (cur.tagEnd()) throw bad('XML without fields');
  const fields: PushFields = {};
  const repeated = new Set<string>();
  for (;;) {
    const lt = t.indexOf('<', cur.pos);
    if (lt < 0) throw bad(`malformed XML: <${root}> is not closed`);
    if (t.slice(cur.pos, lt).trim() !== '') throw bad('XML with text outside its fields');
    cur.pos = lt;
    if (cur.startsWith('</')) {
      cur.pos += 2;
      if (cur.name() !== root) throw bad('malformed XML: mismatched root end tag');
      cur.skipSpace();
      if (t[cur.pos] !== '>') throw bad('malformed XML: bad end tag');
      cur.pos++;
      break;
    }
    if (cur.startsWith('<![CDATA[')) throw bad('XML with text outside its fields');
    if (skipMisc(cur)) continue;
    cur.pos++;
    const name = cur.name();
    const value = cur.tagEnd() ? '' : readContent(cur, name, 1);
    if (name in fields || repeated.has(name)) {
      // Repeated tags are not part of the push format: neither copy is trusted.
      delete fields[name];
      repeated.add(name);
    } else if (value !== null) {
      fields[name] = value;
    }
  }
  // Epilog: only white space, comments and processing instructions may follow.
  for (;;) {
    cur.skipSpace();
    if (cur.pos >= t.length) return fields;
    if (!skipMisc(cur)) throw bad('XML with more than one root element');
  }
}
