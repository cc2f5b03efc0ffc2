import { describe, expect, it } from 'vitest';
import { thrownCode } from './test/push-builder';
import { parseXmlFields } from './xml-fields';

describe('the flat push XML reader', () => {
  it('reads leaves, skips attributes and comments, and drops nested or repeated fields', () => {
    const fields = parseXmlFields(
      '<?xml version="1.0" encoding="utf-8"?><!-- pushed --><xml a="1" b=\'>\'>' +
        '<A x="y">1</A><Nested><B>2</B></Nested><C>3</C><C>4</C><!-- c --><D/>' +
        '<E>  <![CDATA[ kept ]]>  </E></xml><!-- after -->',
    );
    expect(fields).toEqual({ A: '1', D: '', E: ' kept ' });
  });

  it('keeps unknown references literal and decodes the rest once', () => {
    expect(parseXmlFields('<xml><A>&amp;lt; &&amp; &#0; &#x110000; &unknown;</A></xml>').A).toBe(
      '&lt; && &#0; &#x110000; &unknown;',
    );
  });

  it('refuses what is not one well-formed root of fields', () => {
    for (const body of [
      '<xml><A>1</B></xml>',
      '<xml><A>1</A></xmlx>',
      '<xml><A>1</A></xml><xml/>',
      '<xml/>',
      '<xml><A>1</A>',
      '<xml><A><![CDATA[1</A></xml>',
      '<xml><A x="1>1</A></xml>',
      '<xml><A <B>1</A></xml>',
      '<xml>loose<A>1</A></xml>',
      '<xml><![CDATA[loose]]><A>1</A></xml>',
      '<xml><!-- open <A>1</A></xml>',
      '<xml><1A>1</1A></xml>',
      `<xml>${'<a>'.repeat(40)}${'</a>'.repeat(40)}</xml>`,
    ]) {
      expect(
        thrownCode(() => parseXmlFields(body)),
        body,
      ).toBe('WECHAT_BAD_PAYLOAD');
    }
  });
});
