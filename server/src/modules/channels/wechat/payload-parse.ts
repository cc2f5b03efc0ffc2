/**
 * Reads a push body (XML or JSON, sniffed) into a flat map of top-level string fields.
 * XML: no DTDs and no entity expansion; only the five predefined entities and character
 * references are decoded, and CDATA is taken verbatim. JSON: MsgId values are kept as strings,
 * because real MsgIds are larger than 2^53.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { AppError } from '../../../errors';

export type PushFields = Record<string, string>;

const CDATA_KEY = '#cdata';
const TEXT_KEY = '#text';

const xmlParser = new XMLParser({
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
  cdataPropName: CDATA_KEY,
});

const CDATA_SECTION = /<!\[CDATA\[[\s\S]*?\]\]>/g;
const DTD_MARKUP = /<!\s*(?:DOCTYPE|ENTITY)/i;
/** A bare integer after a "MsgId"-like key; quoted before JSON.parse so no digit is lost. */
const BARE_MSGID = /("(?:msgid|msg_id)"\s*:\s*)(-?\d+)(?=\s*[,}])/gi;
const PREDEFINED_ENTITY = /&(?:(lt|gt|amp|quot|apos)|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/g;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function badPayload(why: string): AppError {
  return new AppError('WECHAT_BAD_PAYLOAD', undefined, { reason: why });
}

/** Parses an XML or JSON push body (chosen by its first character) into flat string fields. */
export function parsePushBody(text: string): PushFields {
  const body = text.replace(/^\uFEFF/, '').trimStart();
  if (body.startsWith('<')) return parseXmlFields(body);
  if (body.startsWith('{')) return parseJsonFields(body);
  throw badPayload('body is neither XML nor JSON');
}

/** Parses `<xml>…</xml>`; rejects any DTD or entity declaration outside CDATA sections. */
export function parseXmlFields(xml: string): PushFields {
  // Customer text inside CDATA may legitimately contain "<!DOCTYPE"; markup outside may not.
  if (DTD_MARKUP.test(xml.replace(CDATA_SECTION, ''))) {
    throw badPayload('XML with a DOCTYPE or ENTITY declaration');
  }
  if (XMLValidator.validate(xml) !== true) throw badPayload('malformed XML');
  let doc: unknown;
  try {
    doc = xmlParser.parse(xml);
  } catch {
    throw badPayload('malformed XML');
  }
  const roots = isRecord(doc) ? Object.values(doc) : [];
  const root = roots[0];
  if (roots.length !== 1 || !isRecord(root)) throw badPayload('XML without a single root element');
  const fields: PushFields = {};
  for (const [name, value] of Object.entries(root)) {
    if (name === TEXT_KEY || name === CDATA_KEY) continue;
    const text = xmlLeafText(value);
    if (text !== null) fields[name] = text;
  }
  return fields;
}

/** A leaf's text: plain text has its predefined entities decoded, CDATA is verbatim. */
function xmlLeafText(value: unknown): string | null {
  if (typeof value === 'string') return decodePredefinedEntities(value);
  if (!isRecord(value)) return null; // repeated tags (arrays) are not part of the push format
  const keys = Object.keys(value);
  if (keys.some((k) => k !== CDATA_KEY && k !== TEXT_KEY)) return null; // nested element
  const text = value[TEXT_KEY];
  const cdata = value[CDATA_KEY];
  const cdataText = Array.isArray(cdata) ? cdata.map(String).join('') : stringOr(cdata, '');
  return decodePredefinedEntities(stringOr(text, '')) + cdataText;
}

function decodePredefinedEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(
    PREDEFINED_ENTITY,
    (whole, name: string | undefined, dec: string | undefined, hex: string | undefined) => {
      if (name !== undefined) return NAMED[name] ?? whole;
      const code = dec !== undefined ? Number(dec) : Number.parseInt(hex ?? '', 16);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    },
  );
}

/** Parses a JSON object body; MsgId keeps every digit. Nested objects and nulls are dropped. */
export function parseJsonFields(json: string): PushFields {
  let doc: unknown;
  try {
    doc = JSON.parse(json.replace(BARE_MSGID, '$1"$2"'));
  } catch {
    throw badPayload('malformed JSON');
  }
  if (!isRecord(doc)) throw badPayload('JSON body is not an object');
  const fields: PushFields = {};
  for (const [name, value] of Object.entries(doc)) {
    if (typeof value === 'string') fields[name] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') fields[name] = String(value);
  }
  return fields;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}
