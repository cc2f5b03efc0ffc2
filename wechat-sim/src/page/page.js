const $ = (id) => document.getElementById(id);
const store = window.localStorage;
const state = { apps: [], appId: '', lastView: '' };
const randomId = (n, chars) =>
  Array.from({ length: n }, () => chars[Math.floor(Math.random() * chars.length)]).join('');
const newOpenid = () =>
  'o' + randomId(27, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-');
const newNickname = () => '顾客' + randomId(4, '0123456789');

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}
const pad = (n) => String(n).padStart(2, '0');
const hhmm = (t) => {
  const d = new Date(t);
  return pad(d.getHours()) + ':' + pad(d.getMinutes());
};
const when = (t, now) =>
  (t - now > 20 * 3600e3 ? `${new Date(t).getMonth() + 1}月${new Date(t).getDate()}日 ` : '') +
  hhmm(t);

async function api(path, body) {
  const res = await fetch(
    '/sim/api/' + path,
    body
      ? {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }
      : {},
  );
  if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message || res.statusText);
  return res.json();
}
const who = () => ({
  appId: state.appId,
  openid: $('openid').value.trim(),
  nickname: $('nickname').value.trim() || undefined,
});

// ?appId=&openid=&nickname= (e.g. a link from the console) win over what the browser remembers.
const params = new URLSearchParams(location.search);
for (const key of ['appId', 'openid', 'nickname']) {
  if (params.get(key)) store.setItem('sim.' + key, params.get(key));
}

function initCustomer(fresh) {
  if (fresh || !store.getItem('sim.openid')) {
    store.setItem('sim.openid', newOpenid());
    store.setItem('sim.nickname', newNickname());
  }
  $('openid').value = store.getItem('sim.openid');
  $('nickname').value = store.getItem('sim.nickname');
  state.lastView = '';
}

async function loadApps() {
  state.apps = await api('apps');
  if (!state.apps.some((a) => a.appId === state.appId)) state.appId = state.apps[0]?.appId || '';
  $('app').replaceChildren(
    ...state.apps.map((a) =>
      el('option', { value: a.appId, text: `${a.appId}（${a.originalId}）` }),
    ),
  );
  $('app').value = state.appId;
  $('app').parentElement.querySelector('label[for=app]').hidden = $('app').hidden =
    state.apps.length < 2;
}

function bubbleFor(item) {
  if (item.kind === 'text') return el('div', { class: 'bubble', text: item.text });
  if (item.kind === 'image')
    return el(
      'div',
      { class: 'bubble media' },
      el('img', { class: 'pic', src: item.image?.url || '', alt: '图片' }),
    );
  if (item.kind === 'miniprogrampage') {
    const c = item.card || {};
    return el(
      'div',
      { class: 'bubble media' },
      el(
        'div',
        { class: 'card' },
        el('div', { class: 't', text: c.title }),
        el('img', { src: c.thumb?.url || '', alt: '' }),
        el('div', { class: 'foot', text: '小程序' }),
      ),
    );
  }
  if (item.kind === 'link') {
    const l = item.link || {};
    return el(
      'div',
      { class: 'bubble media' },
      el(
        'a',
        { class: 'card', href: l.url, target: '_blank', rel: 'noopener' },
        el('div', { class: 't', text: l.title }),
        el(
          'div',
          { class: 'link-body' },
          el('div', { class: 'd', text: l.description }),
          l.thumbUrl ? el('img', { src: l.thumbUrl, alt: '' }) : null,
        ),
      ),
    );
  }
  return el('div', { class: 'bubble', text: `[${item.kind}]` });
}

function render(view) {
  const box = $('timeline');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const nodes = [];
  let lastAt = 0;
  const nick = $('nickname').value.trim() || '我';
  for (const item of view.items) {
    if (item.at - lastAt > 5 * 60e3)
      nodes.push(el('div', { class: 'notice' }, el('span', { text: when(item.at, 0) })));
    lastAt = item.at;
    const attrs = {
      'data-testid': 'timeline-item',
      'data-direction': item.direction,
      'data-kind': item.kind,
    };
    if (item.kind === 'event') {
      nodes.push(
        el(
          'div',
          { class: 'notice', ...attrs },
          el('span', { text: `你进入了客服会话 · 来源 ${item.sessionFrom || '（无）'}` }),
        ),
      );
    } else {
      const avatar = el('div', {
        class: 'avatar',
        text: item.direction === 'in' ? nick.slice(0, 1) : '客',
      });
      nodes.push(el('div', { class: 'row ' + item.direction, ...attrs }, avatar, bubbleFor(item)));
    }
    if (item.direction === 'in' && item.push && item.push.handedBack) {
      nodes.push(
        el(
          'div',
          { class: 'notice', 'data-testid': 'handed-back' },
          el('span', {
            text: '（模拟器：此消息已转到微信客服工具，由网页版客服或客服小助手接待）',
          }),
        ),
      );
    }
    if (item.direction === 'in' && item.push && !item.push.acknowledged) {
      const text =
        item.push.attempts === 0
          ? '（模拟器：该小程序未配置推送地址）'
          : '该小程序客服暂时无法提供服务，请稍后再试';
      nodes.push(el('div', { class: 'notice fail' }, el('span', { text })));
    }
  }
  if (!nodes.length)
    nodes.push(el('div', { class: 'empty', text: '点「进入客服会话」或直接发一条消息吧' }));
  box.replaceChildren(...nodes);
  if (!atBottom) return;
  // Stay pinned to the newest entry, also once images finish loading and grow the list.
  const pin = () => (box.scrollTop = box.scrollHeight);
  pin();
  for (const img of box.querySelectorAll('img')) img.addEventListener('load', pin, { once: true });
}

function renderStatus(view) {
  const w = view.window;
  $('window').textContent = !w
    ? '尚未发言'
    : w.expiresAt <= view.now
      ? '客服已不能回复（窗口已关闭）'
      : `可回复 ${w.quota} 条 · 至 ${when(w.expiresAt, view.now)}`;
  if (view.withWechatTool) $('window').textContent += ' · 由微信客服工具接待';
  $('typing').hidden = !view.typing?.typing;
}

async function refresh() {
  if (!state.appId) {
    await loadApps();
    if (!state.appId) {
      $('timeline').replaceChildren(
        el('div', {
          class: 'empty',
          text: '模拟器里还没有小程序，请先用 POST /sim/api/apps 添加',
        }),
      );
      return;
    }
  }
  const { appId, openid } = who();
  const view = await api(
    `timeline?appId=${encodeURIComponent(appId)}&openid=${encodeURIComponent(openid)}`,
  );
  renderStatus(view);
  const key = JSON.stringify(view.items);
  if (key !== state.lastView) {
    state.lastView = key;
    render(view);
  }
}

async function act(path, body) {
  try {
    await api('customer/' + path, { ...who(), ...body });
  } catch (err) {
    alert('发送失败：' + err.message);
  }
  await refresh();
}
const toBase64 = (dataUrl) => dataUrl.slice(dataUrl.indexOf(',') + 1);
const readAsDataUrl = (file) =>
  new Promise((ok, fail) => {
    const r = new FileReader();
    r.onload = () => ok(r.result);
    r.onerror = fail;
    r.readAsDataURL(file);
  });

async function imagePayload(file) {
  if (['image/jpeg', 'image/png', 'image/gif'].includes(file.type))
    return { base64: toBase64(await readAsDataUrl(file)), mime: file.type };
  const bitmap = await createImageBitmap(file); // other formats: re-encode as PNG, as WeChat would transcode
  const canvas = el('canvas', { width: bitmap.width, height: bitmap.height });
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  return { base64: toBase64(canvas.toDataURL('image/png')), mime: 'image/png' };
}

function cardThumb(title) {
  const canvas = el('canvas', { width: 520, height: 416 });
  const g = canvas.getContext('2d');
  const grad = g.createLinearGradient(0, 0, 520, 416);
  grad.addColorStop(0, '#ffecd2');
  grad.addColorStop(1, '#fcb69f');
  g.fillStyle = grad;
  g.fillRect(0, 0, 520, 416);
  g.fillStyle = '#ffffffcc';
  g.fillRect(150, 90, 220, 180);
  g.fillStyle = '#7a3e1d';
  g.font = 'bold 40px sans-serif';
  g.textAlign = 'center';
  g.fillText(title, 260, 350);
  return toBase64(canvas.toDataURL('image/png'));
}

async function sendText() {
  const content = $('text').value;
  if (!content.trim()) return;
  $('text').value = '';
  await act('text', { content });
}

$('send').addEventListener('click', sendText);
$('text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.isComposing) sendText();
});
$('enter').addEventListener('click', () => act('enter', { sessionFrom: $('sessionFrom').value }));
$('card').addEventListener('click', () => {
  const id = ($('sessionFrom').value.match(/(\d+)/) || [])[1] || '1001';
  act('card', {
    title: `商品 ${id} · 限时特惠`,
    pagePath: `pages/goods/detail?id=${id}`,
    thumbBase64: cardThumb(`商品 ${id}`),
    thumbMime: 'image/png',
  });
});
$('image').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  e.target.value = '';
  if (file) await act('image', await imagePayload(file));
});
$('app').addEventListener('change', () => {
  state.appId = $('app').value;
  store.setItem('sim.appId', state.appId);
  state.lastView = '';
  refresh();
});
$('openid').addEventListener('change', () => {
  store.setItem('sim.openid', $('openid').value.trim());
  state.lastView = '';
  refresh();
});
$('nickname').addEventListener('change', () => {
  store.setItem('sim.nickname', $('nickname').value.trim());
  state.lastView = '';
  refresh();
});
$('newCustomer').addEventListener('click', () => {
  initCustomer(true);
  refresh();
});

state.appId = store.getItem('sim.appId') || '';
initCustomer(false);
loadApps()
  .then(refresh)
  .catch(() => {});
setInterval(() => refresh().catch(() => {}), 1000);
