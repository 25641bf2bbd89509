// UFO board script. Hand-written, no build step. It does four things:
//  - forms and buttons marked data-api call the JSON API with fetch();
//  - Kanban cards move by drag-and-drop and by keyboard (← →, Enter);
//  - the page follows the fleet's change feed over Server-Sent Events and
//    swaps in fresh server-rendered parts (data-live-region) when they change;
//  - small touches: local times, label colours, copy buttons, dialogs.
// Same-origin fetches carry the session cookie and pass the server's
// cross-origin protection; nothing here changes state on a GET.
'use strict';

(() => {
  const fleet = document.body.dataset.fleet || '';
  const order = ['backlog', 'queued', 'running', 'in_review', 'done', 'canceled'];
  const kinds = [
    'operation.created', 'operation.updated', 'operation.deleted',
    'run.queued', 'run.claimed', 'run.started', 'run.events', 'run.succeeded', 'run.failed',
    'run.canceled', 'run.cancel_requested', 'run.requeued',
    'message.created', 'reaction.created', 'reaction.deleted',
    'relationship.created', 'relationship.deleted', 'signal.raised', 'signal.resolved',
    'mission.created', 'mission.updated', 'mission.deleted',
    'pilot.created', 'pilot.updated', 'pilot.deleted',
    'crew.created', 'crew.updated', 'crew.deleted',
    'label.created', 'label.updated', 'label.deleted',
    'membership.created', 'membership.updated', 'membership.deleted',
    'invitation.created', 'invitation.deleted',
    'rover.enrolled', 'rover.connected', 'rover.online', 'rover.offline', 'rover.revoked',
  ];

  // ---- the API ----

  function withFleet(path) {
    const unscoped = path.startsWith('/api/auth/') || path === '/api/fleets' || path.endsWith('/accept');
    if (!fleet || unscoped || /[?&]fleet=/.test(path)) return path;
    return path + (path.includes('?') ? '&' : '?') + 'fleet=' + encodeURIComponent(fleet);
  }

  async function api(method, path, body) {
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(withFleet(path), init);
    if (res.status === 204) return null;
    let data = null;
    try { data = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) {
      throw new Error((data && data.error && data.error.message) || res.status + ' ' + res.statusText);
    }
    return data;
  }

  function splitAssignee(v) {
    const i = v.indexOf(':');
    return i < 0 ? ['', ''] : [v.slice(0, i), v.slice(i + 1)];
  }

  // formBody reads a form into the API's JSON. data-type on a field says how:
  // int, bool, list (comma separated), multi (checked boxes), upper,
  // assignee ("type:id"); a dotted name nests ("settings.model").
  function formBody(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      const type = el.dataset.type || '';
      let v = el.value;
      if (type === 'multi') {
        const list = (out[el.name] = out[el.name] || []);
        if (el.checked) list.push(v);
        continue;
      }
      if (type === 'assignee') {
        [out.assignee_type, out.assignee_id] = splitAssignee(v);
        continue;
      }
      if (type === 'int') {
        if (v === '') continue;
        v = Number(v);
      } else if (type === 'bool' || el.type === 'checkbox') {
        v = el.checked;
      } else if (type === 'list') {
        v = v.split(',').map((s) => s.trim()).filter(Boolean);
      } else if (type === 'upper') {
        v = v.trim().toUpperCase();
      }
      const parts = el.name.split('.');
      let o = out;
      for (const p of parts.slice(0, -1)) o = o[p] = o[p] || {};
      o[parts[parts.length - 1]] = v;
    }
    return out;
  }

  // bodyOf reads a button's data-body-* attributes into a JSON body.
  function bodyOf(el) {
    const body = {};
    for (const [k, v] of Object.entries(el.dataset)) {
      if (k.length > 4 && k.startsWith('body')) body[k[4].toLowerCase() + k.slice(5)] = v;
    }
    return Object.keys(body).length ? body : undefined;
  }

  function safePath(p) {
    return p.startsWith('/') && !p.startsWith('//') && !p.startsWith('/\\') ? p : '/board';
  }

  function show(v) {
    if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) return localTime(v) || v;
    return v == null ? '' : String(v);
  }

  // done carries out what an element's data-then asks after a call worked:
  // go (to data-next, {id} filled from the answer), show (the answer's
  // fields in data-show's [data-field]s), or refresh (the default).
  function done(el, data) {
    const then = el.dataset.then || 'refresh';
    if (then === 'go') {
      const next = (el.dataset.next || '/board').replace('{id}', encodeURIComponent((data && data.id) || ''));
      location.assign(safePath(next));
      return;
    }
    if (then === 'show') {
      const out = document.querySelector(el.dataset.show);
      for (const f of out.querySelectorAll('[data-field]')) f.textContent = show(data && data[f.dataset.field]);
      out.hidden = false;
    } else if (el.tagName === 'FORM') {
      if ((el.dataset.method || 'POST') === 'POST') el.reset();
      const dialog = el.closest('dialog');
      if (dialog) dialog.close();
    }
    refresh(0);
  }

  document.addEventListener('submit', async (e) => {
    const form = e.target;
    if (!form.dataset || !form.dataset.api) return;
    e.preventDefault();
    const error = form.querySelector('.form-error');
    if (error) error.hidden = true;
    const buttons = form.querySelectorAll('button:not([type=button])');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      done(form, await api(form.dataset.method || 'POST', form.dataset.api, formBody(form)));
    } catch (x) {
      if (error) {
        error.textContent = x.message;
        error.hidden = false;
      } else {
        toast(x.message, true);
      }
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });

  document.addEventListener('click', async (e) => {
    const el = e.target.closest('[data-open], [data-close], [data-copy], button[data-api]');
    if (!el) return;
    if (el.dataset.open) {
      document.querySelector(el.dataset.open).showModal();
      return;
    }
    if ('close' in el.dataset) {
      el.closest('dialog').close();
      return;
    }
    if (el.dataset.copy) {
      copy(document.querySelector(el.dataset.copy), el);
      return;
    }
    if (el.dataset.confirm && !window.confirm(el.dataset.confirm)) return;
    el.disabled = true;
    try {
      done(el, await api(el.dataset.method || 'POST', el.dataset.api, bodyOf(el)));
    } catch (x) {
      toast(x.message, true);
    } finally {
      el.disabled = false;
    }
  });

  document.addEventListener('change', async (e) => {
    const el = e.target;
    if (el.dataset.patch) {
      const op = el.closest('[data-op]').dataset.op;
      let body = { [el.dataset.patch]: el.value };
      if (el.dataset.patch === 'assignee') {
        const [type, id] = splitAssignee(el.value);
        body = { assignee_type: type, assignee_id: id };
      } else if (el.dataset.patch === 'priority') {
        body = { priority: Number(el.value) };
      }
      try {
        await api('PATCH', '/api/operations/' + encodeURIComponent(op), body);
        toast('Saved');
      } catch (x) {
        toast(x.message, true);
      }
      refresh(0);
      return;
    }
    if (el.dataset.patchMember) {
      try {
        await api('PATCH', '/api/members/' + encodeURIComponent(el.dataset.patchMember), { role: el.value });
        toast('Saved');
      } catch (x) {
        toast(x.message, true);
      }
      refresh(0);
      return;
    }
    const form = el.closest('form[data-autosubmit]');
    if (form && el.tagName === 'SELECT') form.requestSubmit();
  });

  // ---- Kanban ----

  let dragging = null;

  function dropColumn(e) {
    const col = e.target.closest && e.target.closest('.column');
    return col && dragging && !('nodrop' in col.dataset) ? col : null;
  }

  function clearDrop() {
    document.querySelectorAll('.column.drop').forEach((c) => c.classList.remove('drop'));
  }

  function counts() {
    for (const col of document.querySelectorAll('.column')) {
      const count = col.querySelector('.count');
      if (count) count.textContent = col.querySelectorAll('.card').length + (col.querySelector('.more') ? '+' : '');
    }
  }

  function announce(text) {
    const a = document.getElementById('announce');
    if (a) a.textContent = text;
  }

  function columnName(status) {
    const col = document.querySelector('.column[data-status="' + status + '"]');
    return col ? col.getAttribute('aria-label') : status;
  }

  // move puts a card in another column at once, then asks the server; on
  // refusal the card goes back and the reason shows.
  async function move(card, status, keyboard) {
    if (!card || card.dataset.status === status) return;
    const list = document.querySelector('.column[data-status="' + status + '"] .cards');
    if (!list) return;
    const from = card.parentElement;
    const next = card.nextElementSibling;
    const old = card.dataset.status;
    list.prepend(card);
    card.dataset.status = status;
    counts();
    if (keyboard) card.focus();
    card.classList.add('moved');
    setTimeout(() => card.classList.remove('moved'), 700);
    try {
      await api('PATCH', '/api/operations/' + encodeURIComponent(card.dataset.id), { status });
      announce(card.dataset.code + ' moved to ' + columnName(status));
    } catch (x) {
      from.insertBefore(card, next);
      card.dataset.status = old;
      counts();
      if (keyboard) card.focus();
      toast(x.message, true);
    }
    refresh(300);
  }

  document.addEventListener('dragstart', (e) => {
    const card = e.target.closest && e.target.closest('.card[draggable=true]');
    if (!card) return;
    dragging = card;
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData('text/plain', card.dataset.code);
    requestAnimationFrame(() => card.classList.add('dragging'));
  });

  document.addEventListener('dragend', () => {
    if (dragging) dragging.classList.remove('dragging');
    dragging = null;
    clearDrop();
    if (deferred) refresh(50);
  });

  document.addEventListener('dragover', (e) => {
    const col = dropColumn(e);
    if (!col) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    if (!col.classList.contains('drop')) {
      clearDrop();
      col.classList.add('drop');
    }
  });

  document.addEventListener('dragleave', (e) => {
    const col = dropColumn(e);
    if (col && !col.contains(e.relatedTarget)) col.classList.remove('drop');
  });

  document.addEventListener('drop', (e) => {
    const col = dropColumn(e);
    if (!col) return;
    e.preventDefault();
    const card = dragging;
    clearDrop();
    move(card, col.dataset.status, false);
  });

  document.addEventListener('keydown', (e) => {
    const card = e.target;
    if (!card.classList || !card.classList.contains('card') || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === 'Enter') {
      card.querySelector('a.title').click();
      return;
    }
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    e.preventDefault();
    const step = e.key === 'ArrowRight' ? 1 : -1;
    let i = order.indexOf(card.dataset.status) + step;
    if (order[i] === 'running') i += step; // rovers set running
    if (order[i]) move(card, order[i], true);
  });

  // ---- live updates ----

  let timer = 0;
  let busy = false;
  let deferred = false;
  // pressing: a pointer is down. A swap between its press and its release
  // would put the release on a new copy of what was pressed, and the
  // browser would fire no click: the swap waits for the release.
  let pressing = false;

  document.addEventListener('pointerdown', () => { pressing = true; }, true);
  const released = () => {
    pressing = false;
    if (deferred && !dragging) refresh(50);
  };
  document.addEventListener('pointerup', released, true);
  document.addEventListener('pointercancel', released, true);
  window.addEventListener('blur', released);

  function refresh(delay) {
    clearTimeout(timer);
    timer = setTimeout(reload, delay);
  }

  function typing(region) {
    const a = document.activeElement;
    if (!a || !region.contains(a)) return false;
    return a.tagName === 'TEXTAREA' || (a.tagName === 'INPUT' && !['checkbox', 'radio', 'button', 'submit'].includes(a.type));
  }

  // reload fetches this page again and swaps in its live regions, keeping
  // folds open or shut as the reader left them and the focus where it was.
  // It waits while a card is dragged, a pointer is pressed, or someone
  // types in a region.
  async function reload() {
    if (dragging || pressing || busy) {
      deferred = true;
      return;
    }
    busy = true;
    deferred = false;
    try {
      const res = await fetch(location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (!res.ok || res.redirected) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      if (dragging || pressing) {
        deferred = true; // pressed while the page was fetched
        return;
      }
      for (const fresh of doc.querySelectorAll('[data-live-region][id]')) {
        const old = document.getElementById(fresh.id);
        if (!old) continue;
        if (typing(old)) {
          deferred = true;
          continue;
        }
        for (const d of old.querySelectorAll('details[id]')) {
          const n = fresh.querySelector('#' + CSS.escape(d.id));
          if (n) n.open = d.open;
        }
        const a = document.activeElement;
        const focusID = a && old.contains(a) ? a.id : '';
        const focusCard = a && old.contains(a) && a.classList.contains('card') ? a.dataset.id : '';
        const node = document.importNode(fresh, true);
        old.replaceWith(node);
        decorate(node);
        const f = focusID ? document.getElementById(focusID)
          : focusCard ? node.querySelector('.card[data-id="' + CSS.escape(focusCard) + '"]') : null;
        if (f) f.focus();
      }
    } catch (_) {
      deferred = true; // offline for a moment: the next change tries again
    } finally {
      busy = false;
      if (deferred && !dragging && !pressing) refresh(1000);
    }
  }

  document.addEventListener('focusout', () => {
    if (deferred) refresh(300);
  });

  // follow listens to the change feed from the position the page was
  // rendered at. EventSource reconnects by itself and resumes with
  // Last-Event-ID, so no change is lost or seen twice. The stream closes
  // when the page is hidden (left, or kept in the back-forward cache), so
  // it never holds one of the browser's few connections to the server, and
  // resumes from the last event seen when the page shows again.
  function follow() {
    const scope = document.querySelector('[data-live-kinds]');
    if (!fleet || !scope || !window.EventSource) return;
    const prefixes = scope.dataset.liveKinds.split(/\s+/).filter(Boolean);
    const op = scope.dataset.liveOp || '';
    const matters = (ev) => {
      if (op) {
        const runs = document.getElementById('op-runs');
        const ids = runs ? runs.dataset.runs.split(' ') : [];
        return ev.subject_id === op || (ev.data && ev.data.operation_id === op) ||
          ids.includes(ev.subject_id) || ev.kind.startsWith('operation.');
      }
      return ev.kind !== 'run.events' && prefixes.some((p) => ev.kind.startsWith(p));
    };
    let last = document.body.dataset.after || '0';
    let source = null;
    const on = (e) => {
      if (e.lastEventId) last = e.lastEventId;
      let ev;
      try { ev = JSON.parse(e.data); } catch (_) { return; }
      if (matters(ev)) refresh(150);
    };
    const open = () => {
      source = new EventSource('/api/events/stream?fleet=' + encodeURIComponent(fleet) + '&after=' + encodeURIComponent(last));
      for (const k of kinds) source.addEventListener(k, on);
    };
    window.addEventListener('pagehide', () => {
      if (source) source.close();
      source = null;
    });
    window.addEventListener('pageshow', (e) => {
      if (e.persisted && !source) open();
    });
    open();
  }

  // ---- small touches ----

  function localTime(iso) {
    const d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  function decorate(root) {
    for (const t of root.querySelectorAll('time[datetime]')) {
      const s = localTime(t.getAttribute('datetime'));
      if (s) {
        t.title = t.textContent;
        t.textContent = s;
      }
    }
    for (const c of root.querySelectorAll('.chip[data-color]')) c.style.setProperty('--label', c.dataset.color);
  }

  let toastTimer = 0;
  function toast(text, error) {
    const t = document.getElementById('toast');
    if (!t) return;
    t.textContent = text;
    t.classList.toggle('error', !!error);
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, error ? 6000 : 2000);
  }

  async function copy(el, button) {
    try {
      await navigator.clipboard.writeText(el.textContent);
      const was = button.textContent;
      button.textContent = 'Copied';
      setTimeout(() => { button.textContent = was; }, 1500);
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(el);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      toast('Selected: press Ctrl+C to copy');
    }
  }

  decorate(document);
  follow();
})();
