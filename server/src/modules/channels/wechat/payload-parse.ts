/**
 * Reads a push body (XML or JSON, sniffed) into a flat map of top-level string fields.
 * XML: no DTDs and no entity expansion; only the five predefined entities and character
 * references are decoded, and CDATA is taken verbatim. JSON: MsgId values are kept as strings,
 * because real MsgIds are larger than 2^53.
 */
import { AppError } from '../../../errors';
import { parseXmlFields, type PushFields } from './xml-fields';

export { parseXmlFields, type PushFields };

/** A bare integer after a "MsgId"-like key; quoted before JSON.parse so no digit is lost. */
const BARE_MSGID = /("(?:msgid|msg_id)"\s*:\s*)(-?\d+)(?=\s*[,}])/gi;

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
