import { describe, expect, it } from 'vitest';
import { createI18n } from 'vue-i18n';
import { zhCN } from '../i18n/zh-CN';
import { deliveryReason as reason, type Translate } from './delivery-reason';

const i18n = createI18n({ legacy: false, locale: 'zh-CN', messages: { 'zh-CN': zhCN } });
const tr: Translate = { t: (k) => i18n.global.t(k), te: (k) => i18n.global.te(k) };
const deliveryReason = (m: Parameters<typeof reason>[0]) => reason(m, tr);

describe('deliveryReason', () => {
  it('says a known WeChat errcode in the console’s language, with the code', () => {
    expect(
      deliveryReason({ errorCode: 45015, errorReason: 'Outside the 48-hour reply window (45015)' }),
    ).toBe('已超过 48 小时回复时限（45015）');
  });
  it('reads Kefu’s own code from the reason’s parentheses', () => {
    expect(
      deliveryReason({
        errorCode: 0,
        errorReason: 'The send may have reached … (DELIVERY_UNCERTAIN)',
      }),
    ).toContain('无法确定客户是否收到');
    expect(
      deliveryReason({ errorCode: 48001, errorReason: 'withdrew … (PLATFORM_UNAUTHORIZED)' }),
    ).toContain('取消对第三方平台的授权');
  });
  it('keeps the server’s sentence for a code it does not know', () => {
    expect(deliveryReason({ errorCode: 61234, errorReason: 'WeChat error: odd (61234)' })).toBe(
      'WeChat error: odd (61234)',
    );
  });
});
