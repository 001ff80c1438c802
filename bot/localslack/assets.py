"""The workspace page's stylesheet and script, as strings (no front-end build chain).

The script is small on purpose: clicks, selects, modal submits and the message box are
posted to ``/ui/...`` with ``fetch``; afterwards, and whenever ``/ui/version`` changes
(polled every second), the page is fetched again and only the parts whose signature
changed (sidebar, messages, modal) are swapped, so typing in an open modal or the message
box is never lost. Without JavaScript the forms still post and the server redirects back.
"""

PAGE_CSS = """
*{box-sizing:border-box}
html,body{margin:0;height:100%;font:15px/1.46 -apple-system,'Segoe UI',Roboto,'Helvetica Neue',
Arial,'Noto Sans',sans-serif,'Noto Color Emoji';color:#1d1c1d;background:#fff}
html.busy,html.busy *{cursor:progress}
#app{display:flex;height:100vh}
#sidebar{width:270px;flex:none;background:#3f0e40;color:#cfc3cf;padding:14px 0;overflow:auto}
.ws-name{color:#fff;font-weight:800;font-size:18px;padding:0 16px 10px;
border-bottom:1px solid #5d3a5e}
.as-user{display:block;padding:10px 16px;font-size:13px}
.as-user select{display:block;width:100%;margin-top:4px;padding:4px;border-radius:4px}
.nav-title{padding:14px 16px 4px;font-size:13px;text-transform:uppercase;letter-spacing:.04em}
.nav{display:flex;justify-content:space-between;align-items:center;padding:5px 16px;
color:#cfc3cf;text-decoration:none}
.nav:hover{background:#350d36}.nav.active{background:#1164a3;color:#fff}
.nav.unread{color:#fff;font-weight:700}
.badge{background:#e01e5a;color:#fff;border-radius:9px;padding:0 7px;font-size:12px}
main{flex:1;display:flex;flex-direction:column;min-width:0}
.conv-header{display:flex;justify-content:space-between;align-items:center;padding:12px 20px;
border-bottom:1px solid #ddd;font-weight:800;font-size:18px}
.conv-header .who{font-weight:400;font-size:13px;color:#616061}
#tour{margin:10px 20px 0;padding:8px 14px;background:#f4ede4;border-radius:8px;font-size:14px}
#tour summary{cursor:pointer;font-weight:700}#tour ol{margin:6px 0;padding-left:20px}
#messages{flex:1;overflow:auto;padding:8px 0}
.home{padding:8px 24px;max-width:860px}
.empty{color:#616061;padding:20px}
.msg{display:flex;gap:10px;padding:8px 20px}.msg:hover{background:#f8f8f8}
.msg.ephemeral{background:#f5f9fc}
.avatar{flex:none;width:36px;height:36px;border-radius:6px;background:#2eb67d;color:#fff;
display:flex;align-items:center;justify-content:center;font-weight:800}
.avatar.slackbot{background:#36c5f0}
.msg-body{min-width:0;flex:1;max-width:860px}
.msg-meta{display:flex;gap:8px;align-items:baseline;font-size:15px}
.app-badge{background:#e8e8e8;color:#616061;font-size:10px;font-weight:700;padding:1px 4px;
border-radius:3px}
.time,.edited{color:#616061;font-size:12px}
.only-you{color:#616061;font-size:12px;font-style:italic}
.dismiss{border:0;background:none;color:#1264a3;cursor:pointer;font-size:12px;padding:0}
.bk-header{font-size:18px;font-weight:800;margin:6px 0}
.bk-section{display:flex;gap:12px;justify-content:space-between;margin:4px 0}
.bk-main{min-width:0;flex:1}.bk-accessory{flex:none}
.bk-fields{display:grid;grid-template-columns:1fr 1fr;gap:4px 16px;margin-top:4px}
.bk-context{display:flex;flex-wrap:wrap;gap:6px;align-items:center;color:#616061;font-size:13px;
margin:4px 0}
.bk-context .bk-image.small{width:18px;height:18px}
.bk-actions{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.bk-divider{border:0;border-top:1px solid #ddd;margin:10px 0}
.bk-button{font:inherit;font-size:14px;font-weight:700;padding:4px 12px;border-radius:4px;
border:1px solid #bbb;background:#fff;color:#1d1c1d;cursor:pointer}
.bk-button:hover{background:#f6f6f6}
.bk-button.primary{background:#007a5a;border-color:#007a5a;color:#fff}
.bk-button.danger{background:#e01e5a;border-color:#e01e5a;color:#fff}
.bk-image{max-width:100%;border-radius:6px}
.bk-file img{max-width:560px;width:100%;border:1px solid #ddd;border-radius:6px}
.bk-file figcaption{color:#616061;font-size:13px}.bk-file{margin:6px 0}
code{background:#f6f6f6;border:1px solid #e1e1e1;border-radius:3px;padding:0 3px;
font-size:13px;color:#c01343}
pre{background:#f8f8f8;border:1px solid #e1e1e1;border-radius:4px;padding:8px;
white-space:pre-wrap}
.quote{display:block;border-left:4px solid #ddd;padding-left:10px}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}
.mention.me{background:#fff3c4;color:#7a5b00}
.mention.broadcast{background:#fff3c4;color:#7a5b00}
time{border-bottom:1px dotted #999}
a{color:#1264a3}
#composer{display:flex;gap:8px;padding:12px 20px;border-top:1px solid #ddd}
#composer-input{flex:1;font:inherit;padding:8px 10px;border:1px solid #bbb;border-radius:6px}
.modal-backdrop{position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;
align-items:flex-start;justify-content:center;padding-top:6vh;z-index:10}
.modal{background:#fff;width:560px;max-width:94vw;max-height:86vh;display:flex;
flex-direction:column;border-radius:8px;box-shadow:0 10px 40px rgba(0,0,0,.35)}
.modal-title{display:flex;justify-content:space-between;align-items:center;padding:16px 24px;
font-size:20px;font-weight:800;border-bottom:1px solid #ddd}
.modal-x{border:0;background:none;font-size:26px;line-height:1;cursor:pointer;color:#616061}
.modal-body{padding:12px 24px;overflow:auto}
.modal-footer{display:flex;justify-content:flex-end;gap:8px;padding:14px 24px;
border-top:1px solid #ddd}
.bk-input{margin:12px 0}.bk-input label{display:block;font-weight:700;margin-bottom:4px}
.bk-input .optional{font-weight:400;color:#616061}
.bk-input input[type=text],.bk-input input[type=date],.bk-input input[type=number],
.bk-input input[type=email],.bk-input input[type=time],.bk-input textarea,
.bk-input select{width:100%;font:inherit;padding:6px 8px;border:1px solid #bbb;border-radius:4px}
.bk-input select[multiple]{height:7em}
.choices .choice{font-weight:400;display:block;margin:2px 0}
.bk-hint{color:#616061;font-size:13px;margin-top:2px}
.bk-error{color:#e01e5a;font-size:13px;margin-top:4px}
.bk-input.invalid input,.bk-input.invalid select,.bk-input.invalid textarea{border-color:#e01e5a}
.bk-unsupported,.bk-image-missing{color:#616061;font-style:italic}
select.bk-live,input.bk-live{font:inherit;padding:3px 6px}
"""

PAGE_JS = """
(() => {
  const body = document.body;
  const user = body.dataset.user;
  const conv = body.dataset.conv;
  let version = body.dataset.version;
  let busy = 0;

  const params = (data) => {
    const out = new URLSearchParams({as: user, back: conv});
    for (const [k, v] of Object.entries(data)) if (v !== undefined && v !== null) out.set(k, v);
    return out;
  };

  async function refresh() {
    const r = await fetch(location.href, {headers: {Accept: 'text/html'}, cache: 'no-store'});
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
    for (const id of ['sidebar', 'messages', 'modal-layer']) {
      const old = document.getElementById(id);
      const neu = doc.getElementById(id);
      if (!old || !neu || old.dataset.sig === neu.dataset.sig) continue;
      const atEnd = old.scrollTop + old.clientHeight >= old.scrollHeight - 60;
      const top = old.scrollTop;
      old.replaceWith(neu);
      if (id === 'messages') neu.scrollTop = atEnd ? neu.scrollHeight : top;
    }
    version = doc.body.dataset.version;
    body.dataset.version = version;
  }

  async function post(url, data) {
    busy += 1;
    document.documentElement.classList.add('busy');
    try {
      await fetch(url, {method: 'POST', headers: {Accept: 'application/json'}, body: data});
    } finally {
      busy -= 1;
      if (!busy) document.documentElement.classList.remove('busy');
    }
    await refresh();
  }

  function act(el, extra) {
    const data = {block_id: el.dataset.blockId, action_id: el.dataset.actionId,
                  type: el.dataset.type, value: el.dataset.value};
    const view = el.closest('[data-view-id]');
    const msg = el.closest('[data-ts]');
    if (view) data.view_id = view.dataset.viewId;
    else if (msg) { data.channel = msg.dataset.channel; data.ts = msg.dataset.ts; }
    return post('/ui/action', params(Object.assign(data, extra)));
  }

  document.addEventListener('click', (ev) => {
    const button = ev.target.closest('button.bk-button[data-action-id]');
    if (button) {
      ev.preventDefault();
      if (button.dataset.url) window.open(button.dataset.url, '_blank', 'noopener');
      act(button, {});
      return;
    }
    const close = ev.target.closest('[data-close]');
    if (close) {
      ev.preventDefault();
      post('/ui/close', params({view_id: close.dataset.close}));
      return;
    }
    const dismiss = ev.target.closest('[data-dismiss]');
    if (dismiss) {
      ev.preventDefault();
      post('/ui/dismiss', params({ts: dismiss.dataset.dismiss}));
    }
  });

  document.addEventListener('change', (ev) => {
    if (ev.target.id === 'as-user') {
      const who = encodeURIComponent(ev.target.value);
      if (conv === 'home') location.href = '/ui/open-home?as=' + who;
      else location.href = '/?as=' + who + '&c=' + (conv.startsWith('D') ? 'dm' : conv);
      return;
    }
    const live = ev.target.closest('.bk-live');
    if (live && live.value) act(live, {selected: live.value});
  });

  document.addEventListener('submit', (ev) => {
    const form = ev.target;
    if (form.id !== 'modal-form' && form.id !== 'composer') return;
    ev.preventDefault();
    const data = new URLSearchParams(new FormData(form));
    if (form.id === 'composer') {
      const input = document.getElementById('composer-input');
      if (!input.value.trim()) return;
      input.value = '';
    }
    post(form.getAttribute('action'), data);
  });

  setInterval(async () => {
    if (busy || document.hidden) return;
    try {
      const r = await fetch('/ui/version', {cache: 'no-store'});
      const j = await r.json();
      if (j.version !== version) await refresh();
    } catch (e) { /* the demo stopped; nothing to redraw */ }
  }, 1000);

  const list = document.getElementById('messages');
  if (list) list.scrollTop = list.scrollHeight;
})();
"""
