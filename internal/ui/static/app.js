// graphsoar live page: follows /api/stream (server-sent events) and acts
// through the JSON API. Every value from the server is put in the page as
// text, never as HTML.
'use strict';

(function () {
  const MAX_EVENTS = 200;
  const eventNodes = new Map(); // event key -> element, newest first in #events

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('data-')) e.setAttribute(k, String(v));
      else if (k === 'title') e.title = v;
      else e[k] = v;
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function td(text, cls) { return el('td', { class: cls, text: text === undefined || text === null ? '' : String(text) }); }

  function time(t) {
    if (!t || t.startsWith('0001-')) return '';
    const d = new Date(t);
    return isNaN(d) ? t : d.toLocaleString();
  }

  function millis(ms) { return ms < 1 ? '<1ms' : Math.round(ms) + 'ms'; }

  function params(p) {
    if (!p) return '';
    return Object.keys(p).sort().map((k) => {
      const v = p[k];
      return k + '=' + (Array.isArray(v) ? '[' + v.join(', ') + ']' : typeof v === 'object' ? JSON.stringify(v) : v);
    }).join(' ');
  }

  function notice(text, kind) {
    const n = document.getElementById('notice');
    n.textContent = text;
    n.dataset.kind = kind || 'error';
    n.hidden = !text;
  }

  function sectionNote(id, s, what) {
    const n = document.getElementById(id);
    let text = '';
    if (s.available === false) text = what + ' not available here.';
    else if (s.error) text = 'Could not read the ' + what + ': ' + s.error;
    n.textContent = text;
    n.classList.toggle('error', !!s.error);
    n.hidden = !text;
  }

  function emptyRow(columns, text) { return el('tr', {}, el('td', { colSpan: columns, class: 'empty', text: text })); }

  function decider() { return document.getElementById('by').value.trim() || 'live-page'; }

  async function post(url, body) {
    const resp = await fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) throw new Error(data.error || resp.status + ' ' + resp.statusText);
    return data;
  }

  // Events -------------------------------------------------------------

  function eventKey(v) { return v.event || 'incident ' + v.tenant + '/' + v.incident; }

  function renderEvent(v) {
    const rows = (v.records || []).map((r) => el('tr', { 'data-result': r.result, 'data-action': r.action, 'data-approval': r.approval },
      td(r.rule), td(r.action, 'mono'), td(params(r.params), 'mono'),
      td(r.result + (r.decidedBy ? ' (' + r.decidedBy + ')' : ''), 'result result-' + r.result),
      td(r.graphStatus ? r.graphStatus : '', 'num'),
      td(r.result === 'unchanged' || r.result === 'duplicate' ? '' : millis(r.durationMs || 0), 'num'),
      td(r.error || '')));
    return el('div', { class: 'event', 'data-event': v.event, 'data-incident': v.incident },
      el('div', { class: 'head' },
        el('span', { class: 'id mono', text: v.event || '(no event id)' }),
        el('span', { class: 'meta', text: (v.eventType || '') + ' · incident ' + v.incident + ' · tenant ' + v.tenant + ' · ' + time(v.time) }),
        ...(v.rules || []).map((r) => el('span', { class: 'chip rule', text: r }))),
      el('table', {},
        el('thead', {}, el('tr', {}, ...['rule', 'action', 'parameters', 'result', 'Graph', 'took', 'error'].map((h) => el('th', { text: h })))),
        el('tbody', {}, ...rows)));
  }

  function upsertEvent(v) {
    const box = document.getElementById('events');
    const key = eventKey(v);
    const node = renderEvent(v);
    const old = eventNodes.get(key);
    if (old) {
      old.replaceWith(node);
    } else {
      const empty = box.querySelector('.empty');
      if (empty) empty.remove();
      box.prepend(node);
      while (eventNodes.size >= MAX_EVENTS) {
        const [oldest] = eventNodes.keys();
        eventNodes.get(oldest).remove();
        eventNodes.delete(oldest);
      }
    }
    eventNodes.delete(key);
    eventNodes.set(key, node);
    document.getElementById('events-count').textContent = '(' + eventNodes.size + ')';
  }

  // Approvals ----------------------------------------------------------

  async function decide(rec, decision, row) {
    row.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    try {
      const out = await post('api/approvals/' + encodeURIComponent(rec.id) + '/' + decision, { by: decider() });
      row.dataset.status = out.status;
      row.querySelector('.status').textContent = out.status + ' by ' + (out.decidedBy || decider());
      notice(rec.action + ' on incident ' + rec.incident + ' ' + out.status + '.', 'ok');
    } catch (e) {
      row.querySelectorAll('button').forEach((b) => { b.disabled = false; });
      notice('Could not ' + decision + ' ' + rec.action + ' on incident ' + rec.incident + ': ' + e.message);
    }
  }

  function renderApprovals(s) {
    sectionNote('approvals-note', s, 'Approvals');
    const items = (s.items || []).slice().sort((a, b) =>
      (a.status === 'pending' ? 0 : 1) - (b.status === 'pending' ? 0 : 1) || String(b.created).localeCompare(String(a.created)));
    const pending = items.filter((r) => r.status === 'pending').length;
    document.getElementById('approvals-count').textContent = '(' + pending + ' pending)';
    const body = document.querySelector('#approvals tbody');
    if (items.length === 0) {
      body.replaceChildren(emptyRow(7, 'No action is held for approval.'));
      return;
    }
    body.replaceChildren(...items.slice(0, 50).map((r) => {
      const row = el('tr', { class: 'approval', 'data-id': r.id, 'data-status': r.status, 'data-incident': r.incident },
        td(time(r.created)), td(r.incident), td(r.rule),
        el('td', { class: 'mono' }, r.action + ' ', el('span', { class: 'muted', text: params(r.params) })),
        td(r.status === 'pending' ? time(r.deadline) : ''),
        td(r.status + (r.decidedBy ? ' by ' + r.decidedBy : '') + (r.result ? ': ' + r.result : '') + (r.error ? ' (' + r.error + ')' : ''),
          'status result result-' + r.status));
      const actions = el('td', { class: 'act' });
      if (r.status === 'pending') {
        const ok = el('button', { class: 'approve', type: 'button', text: 'Approve', 'data-id': r.id });
        const no = el('button', { class: 'reject', type: 'button', text: 'Reject', 'data-id': r.id });
        ok.addEventListener('click', () => decide(r, 'approve', row));
        no.addEventListener('click', () => decide(r, 'reject', row));
        actions.append(ok, no);
      }
      row.append(actions);
      return row;
    }));
  }

  // Dead letters -------------------------------------------------------

  async function replay(l, row) {
    const b = row.querySelector('button');
    b.disabled = true;
    try {
      const out = await post('api/dlq/' + l.seq + '/replay', {});
      row.dataset.replayed = 'true';
      b.textContent = 'Replayed';
      notice('Dead letter ' + l.seq + ' replayed to ' + out.subject + ' (stream #' + out.stored + ').', 'ok');
    } catch (e) {
      b.disabled = false;
      notice('Could not replay dead letter ' + l.seq + ': ' + e.message);
    }
  }

  function renderDeadLetters(s) {
    sectionNote('dlq-note', s, 'Dead letters');
    const items = (s.items || []).slice().reverse();
    document.getElementById('dlq-count').textContent = '(' + items.length + ')';
    const body = document.querySelector('#dead-letters tbody');
    if (items.length === 0) {
      body.replaceChildren(emptyRow(7, 'No dead letter.'));
      return;
    }
    body.replaceChildren(...items.map((l) => {
      const row = el('tr', { class: 'dead-letter', 'data-seq': l.seq, 'data-event': l.event, 'data-reason': l.reason },
        td(l.seq), td(time(l.deadLettered)), td(l.reason, 'result result-failed'), td(l.incident || '-'),
        td(l.event || '-', 'mono'), td(l.error || ''));
      const b = el('button', { class: 'replay', type: 'button', text: 'Replay', 'data-seq': l.seq,
        disabled: !l.subject, title: l.subject ? 'publish it again to ' + l.subject : 'unreadable: nothing to replay' });
      b.addEventListener('click', () => replay(l, row));
      row.append(el('td', { class: 'act' }, b));
      return row;
    }));
  }

  // Rules and budgets --------------------------------------------------

  function renderRules(s) {
    sectionNote('rules-note', s, 'Rules');
    const items = s.items || [];
    document.getElementById('rules-count').textContent = '(' + items.length + ')';
    document.querySelector('#rules tbody').replaceChildren(...items.map((r) =>
      el('tr', { class: 'rule', 'data-rule': r.id, 'data-enabled': r.enabled },
        el('td', { title: r.description || '' }, el('span', { class: 'mono', text: r.id }), r.enabled ? '' : ' (disabled)'),
        td(r.order), td((r.actions || []).join(', '), 'mono'), td(r.matches, 'matches'))));
  }

  function renderBudgets(s) {
    sectionNote('budgets-note', s, 'Budgets');
    const items = s.items || [];
    const body = document.querySelector('#budgets tbody');
    if (items.length === 0) {
      body.replaceChildren(emptyRow(4, 'No Graph call yet.'));
      return;
    }
    body.replaceChildren(...items.map((b) =>
      el('tr', { 'data-tenant': b.tenant },
        td(b.tenant, 'mono'), td(b.calls), td(b.windowSeconds >= 3600 ? 'hour' : 'minute'),
        el('td', {}, el('progress', { max: b.limit, value: b.used }), ' ' + b.used + ' / ' + b.limit))));
  }

  // The stream ---------------------------------------------------------

  function connect() {
    const status = document.getElementById('status');
    const es = new EventSource('api/stream');
    es.onopen = () => { status.dataset.state = 'live'; status.textContent = 'live'; };
    es.onerror = () => { status.dataset.state = 'down'; status.textContent = 'reconnecting…'; };
    const on = (name, fn) => es.addEventListener(name, (m) => {
      try { fn(JSON.parse(m.data)); } catch (e) { console.error(name, e); }
    });
    on('record', upsertEvent);
    on('approvals', renderApprovals);
    on('deadLetters', renderDeadLetters);
    on('rules', renderRules);
    on('budgets', renderBudgets);
  }

  connect();
}());
