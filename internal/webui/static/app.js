// facematch web interface: one page, hash routes, no dependencies. Every API call carries the
// bearer credential kept in sessionStorage (gone when the tab closes). Thumbnails and photos are
// fetched with it and shown from blob: URLs, so a credential never lands in a URL or a cookie.
// The page only hides what a role may not do; the API refuses it anyway.
'use strict';
(() => {
  const PAGE = 50; // review queue rows per page
  // The auditor reads what the others do, to check what the audit log says happened (each
  // opening is audited by the service); only the audit log is the auditor's alone.
  const READERS = ['admin', 'analyst', 'reviewer', 'auditor'];
  const DECISIONS = [
    { key: '1', value: 'potential_candidate', label: 'Potential candidate' },
    { key: '2', value: 'no_candidate', label: 'No candidate' },
    { key: '3', value: 'inconclusive', label: 'Inconclusive' },
  ];

  // ---- small helpers -------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'style') Object.assign(el.style, v); // through the CSSOM: the CSP refuses style attributes
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const $ = (sel, root = document) => root.querySelector(sel);
  // fill replaces el's children, skipping empty ones and flattening lists as h does.
  const fill = (el, ...children) => el.replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false));
  const human = (s) => String(s || '').replaceAll('_', ' ');
  const fmtSim = (x) => Number(x).toFixed(3);
  const fmtTime = (t) => (t ? new Date(t).toLocaleString() : '');
  // fmtSourceTime shows an ad's date: a date given without a time is stored as midnight UTC,
  // and shown as that day, not as the evening before west of Greenwich.
  const fmtSourceTime = (t) => {
    if (!t) return '';
    const d = new Date(t);
    return d.getUTCHours() || d.getUTCMinutes() || d.getUTCSeconds() || d.getUTCMilliseconds()
      ? d.toLocaleString() : d.toLocaleDateString(undefined, { timeZone: 'UTC' });
  };
  // modelName is a model identity for people: its name ("fused", "faceplugin512"); the full
  // identity (with checksums and fusion weights) is the element's title.
  const modelName = (identity) => (identity || '').replace(/[(@].*$/, '');
  const model = (identity) => h('span', { class: 'model', title: identity, text: modelName(identity) });
  function age(t) {
    const s = (Date.now() - new Date(t).getTime()) / 1000;
    if (s < 90) return 'just now';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    if (s < 129600) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' days ago';
  }
  const band = (name) => h('span', { class: 'band ' + (name || ''), text: name || '?' });
  const status = (st) => h('span', { class: 'status ' + st, text: human(st) });

  // ---- session -------------------------------------------------------------------------

  const session = {
    load() {
      try { return JSON.parse(sessionStorage.getItem('facematch.session')) || null; } catch { return null; }
    },
    save(s) { sessionStorage.setItem('facematch.session', JSON.stringify(s)); },
    clear() { sessionStorage.clear(); },
  };
  let me = session.load(); // {token, name, role, reviewers_required}

  // APIError carries the problem document's detail as its message, and the document itself
  // (a reference photo's 409 lists the faces to choose from).
  class APIError extends Error {
    constructor(status, message, problem) { super(message); this.status = status; this.problem = problem || {}; }
  }

  async function api(path, { method = 'GET', json, form, signal, priority = 'high' } = {}) {
    const headers = { Authorization: 'Bearer ' + (me && me.token) };
    let body;
    if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
    if (form) body = form;
    const r = await fetch(path, { method, headers, body, cache: 'no-store', signal, priority });
    if (r.status === 401 && me) {
      signOut('The credential was refused: sign in again.');
      throw new APIError(401, 'signed out');
    }
    if (!r.ok) {
      let msg = r.status + ' ' + r.statusText;
      let problem;
      try { problem = await r.json(); msg = problem.detail || problem.title || msg; } catch { /* not a problem document */ }
      throw new APIError(r.status, msg, problem);
    }
    if (r.status === 204) return null;
    return (r.headers.get('Content-Type') || '').includes('json') ? r.json() : r.blob();
  }

  // ---- page lifecycle: whatever a page starts (timers, blob URLs, observers, keys) stops when
  // the page is left.
  let cleanups = [];
  let pageKeys = null;
  // Images still loading when the page is left are cancelled: the browser opens few
  // connections per host, and the next page's data must not wait behind them.
  let images = new AbortController();
  const onLeave = (fn) => cleanups.push(fn);
  function leavePage() {
    for (const fn of cleanups.splice(0)) fn();
    pageKeys = null;
    images.abort();
    images = new AbortController();
  }

  async function objectURL(path) {
    const blob = await api(path, { signal: images.signal, priority: 'low' });
    const url = URL.createObjectURL(blob);
    onLeave(() => URL.revokeObjectURL(url));
    return url;
  }

  // Thumbnails load when they scroll into view: a queue page shows 100 of them.
  let observer = null;
  function thumb(path, size = '') {
    const img = h('img', { class: 'thumb ' + size, alt: '', dataset: { src: path } });
    if (!observer) {
      observer = new IntersectionObserver((entries) => {
        for (const e of entries) {
          if (!e.isIntersecting) continue;
          observer.unobserve(e.target);
          const t = e.target;
          objectURL(t.dataset.src).then((u) => { t.src = u; }, () => { t.alt = 'thumbnail unavailable'; t.classList.add('missing'); });
        }
      }, { rootMargin: '200px' });
      const o = observer;
      onLeave(() => { o.disconnect(); if (observer === o) observer = null; });
    }
    observer.observe(img);
    return img;
  }

  let noticeTimer = 0;
  function notify(msg, isError) {
    const n = $('#notice');
    n.textContent = msg;
    n.className = isError ? 'error' : '';
    n.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { n.hidden = true; }, isError ? 8000 : 5000);
  }

  function failed(main, err) {
    fill(main, h('div', { class: 'panel' }, h('p', { class: 'refusal', text: err.message })));
  }

  // ---- routing -------------------------------------------------------------------------

  const routes = {
    signin: { page: pageSignIn },
    queue: { page: pageQueue, roles: READERS, nav: 'Review queue' },
    match: { page: pageMatch, roles: READERS },
    probes: { page: pageProbes, roles: READERS },
    search: { page: pageSearch, roles: ['analyst'], nav: 'Search' },
    galleries: { page: pageGalleries, roles: READERS, nav: 'Galleries' },
    gallery: { page: pageGallery, roles: READERS },
    jobs: { page: pageJobs, roles: READERS, nav: 'Jobs' },
    lookup: { page: pageLookup, roles: READERS, nav: 'Look-up' },
    person: { page: pagePerson, roles: READERS },
    credentials: { page: pageCredentials, roles: ['admin'], nav: 'Credentials' },
    retention: { page: pageRetention, roles: ['admin'], nav: 'Retention' },
    audit: { page: pageAudit, roles: ['auditor'], nav: 'Audit log' },
  };
  const home = { reviewer: 'queue', analyst: 'search', admin: 'galleries', auditor: 'audit' };

  function parseHash() {
    const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
    const parts = path.split('/').filter(Boolean);
    return { name: parts[0] || '', arg: parts[1], params: new URLSearchParams(query || '') };
  }
  function go(hash) {
    if (location.hash === hash) render(); else location.hash = hash;
  }

  function render() {
    leavePage();
    // A notice belongs to the page it was given on: moving on ends it.
    clearTimeout(noticeTimer);
    $('#notice').hidden = true;
    // Each page draws into a fresh container: a slow page still loading when the user moves on
    // then draws into a detached element instead of over the next page.
    const main = h('div', { class: 'page' });
    $('#main').replaceChildren(main);
    const r = parseHash();
    if (!me) {
      $('#top').hidden = true;
      pageSignIn(main);
      return;
    }
    if (!routes[r.name] || r.name === 'signin') { go('#/' + home[me.role]); return; }
    const route = routes[r.name];
    drawHeader(r.name);
    if (route.roles && !route.roles.includes(me.role)) {
      fill(main, h('div', { class: 'panel' }, h('p', { text: `The ${me.role} role has no access to this page.` }),
        h('a', { href: '#/' + home[me.role], text: 'Go to your start page' })));
      return;
    }
    fill(main, h('p', { class: 'muted', text: 'Loading…' }));
    route.page(main, r.arg, r.params).catch((err) => { if (err.status !== 401) failed(main, err); });
  }

  function drawHeader(current) {
    $('#top').hidden = false;
    const nav = $('#nav');
    fill(nav, ...Object.entries(routes).filter(([, r]) => r.nav && r.roles.includes(me.role))
      .map(([name, r]) => h('a', { href: '#/' + name, class: name === current || ((current === 'match' || current === 'probes') && name === 'queue') || ((current === 'gallery' || current === 'person') && name === 'galleries') ? 'active' : '', text: r.nav })));
    $('#who').textContent = `${me.name} (${me.role})`;
  }

  function signOut(msg) {
    me = null;
    session.clear();
    leavePage();
    if (msg) notify(msg, true);
    go('#/signin');
  }

  document.addEventListener('keydown', (e) => {
    const t = e.target;
    const typing = t instanceof HTMLElement && (t.matches('input, textarea, select') || t.isContentEditable);
    if (typing && e.key === 'Escape') { t.blur(); return; }
    if (e.altKey || e.metaKey) return;
    if (pageKeys) pageKeys(e, typing);
  });

  // ---- sign in -------------------------------------------------------------------------

  async function pageSignIn(main) {
    const input = h('input', { type: 'password', id: 'credential', autocomplete: 'off', placeholder: 'fm_…', required: true });
    const msg = h('p', { class: 'refusal', id: 'signin-error' });
    const form = h('form', { class: 'panel signin', onsubmit: async (e) => {
      e.preventDefault();
      msg.textContent = '';
      const token = input.value.trim();
      try {
        const r = await fetch('/v1/me', { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
        if (!r.ok) { msg.textContent = r.status === 401 ? 'This credential is unknown or revoked.' : 'Sign-in failed: ' + r.status; return; }
        const who = await r.json();
        me = { token, name: who.name, role: who.role, reviewers_required: who.reviewers_required };
        session.save(me);
        const target = parseHash(); // a deep link (a match sent by a colleague) survives the sign-in
        if (routes[target.name] && target.name !== 'signin') render(); else go('#/' + home[me.role]);
      } catch (err) { msg.textContent = 'Sign-in failed: ' + err.message; }
    } },
    h('h1', { text: 'Sign in to facematch' }),
    h('p', { class: 'muted', text: 'Paste the credential an administrator gave you. It is kept in this tab only and forgotten when the tab closes.' }),
    h('label', {}, 'Credential', input), msg,
    h('p', {}, h('button', { class: 'primary', type: 'submit', id: 'signin-submit', text: 'Sign in' })));
    fill(main, form);
    input.focus();
  }

  // ---- galleries (names are shown everywhere; fetched once per page view) -----------------

  async function galleryNames() {
    const r = await api('/v1/galleries');
    return new Map(r.galleries.map((g) => [g.id, g]));
  }

  // ---- review queue --------------------------------------------------------------------

  const queueDefaults = () => ({ status: 'pending,disputed', order: 'similarity', reviewable: me.role === 'reviewer' ? 'true' : '' });
  const filterKeys = ['status', 'gallery', 'case', 'job', 'min_similarity', 'max_similarity', 'possible_minor', 'order', 'reviewable'];

  function queueFilter(params) {
    const f = queueDefaults();
    for (const k of filterKeys) if (params.has(k)) f[k] = params.get(k);
    return f;
  }
  function queueQuery(f, cursor) {
    const q = new URLSearchParams();
    for (const k of filterKeys) if (f[k]) q.set(k, f[k]);
    q.set('limit', PAGE);
    if (cursor) q.set('cursor', cursor);
    return q.toString();
  }

  // The queue as last listed, so that the match view can step to the next and previous match:
  // {filter, cursors (the cursor of each page so far), page, ids, next}.
  const queueState = {
    load() { try { return JSON.parse(sessionStorage.getItem('facematch.queue')); } catch { return null; } },
    save(q) { sessionStorage.setItem('facematch.queue', JSON.stringify(q)); },
  };

  // queueHash is the address of a queue page, for the way back from a match.
  function queueHash(filter, page) {
    const p = new URLSearchParams();
    for (const k of filterKeys) p.set(k, filter[k] || '');
    p.set('page', page);
    return '#/queue?' + p.toString();
  }

  async function fetchQueuePage(filter, cursors, page) {
    const res = await api('/v1/matches?' + queueQuery(filter, cursors[page]));
    const q = { filter, cursors: cursors.slice(0, page + 1), page, ids: res.items.map((m) => m.id), next: res.next_cursor, total: res.total, back: queueHash(filter, page) };
    if (res.next_cursor) q.cursors[page + 1] = res.next_cursor;
    queueState.save(q);
    return { q, res };
  }

  // reviewCounts says where the review stands per gallery and per case: pending, disputed,
  // final, and how long the oldest waiting item has waited.
  function reviewCounts(rc, gals) {
    const rows = (list, name) => list.map((c) => h('tr', {}, h('td', { text: name(c) }), h('td', { text: c.pending }), h('td', { text: c.disputed }),
      h('td', { text: c.final }), h('td', { title: fmtTime(c.oldest_waiting), text: c.oldest_waiting ? age(c.oldest_waiting) : '—' })));
    const table = (title, list, name) => h('table', { class: 'counts' },
      h('thead', {}, h('tr', {}, [title, 'Pending', 'Disputed', 'Final', 'Oldest waiting'].map((t) => h('th', { text: t })))),
      h('tbody', {}, rows(list, name)));
    const waiting = rc.galleries.reduce((n, c) => n + c.pending + c.disputed, 0);
    return h('details', { class: 'panel', id: 'review-counts' }, h('summary', { text: `Where the review stands: ${waiting.toLocaleString()} waiting (by gallery and by case)` }),
      h('div', { class: 'counts-grid' }, table('Gallery', rc.galleries, (c) => (gals.get(c.gallery_id) || {}).name || `gallery ${c.gallery_id}`),
        table('Case', rc.cases, (c) => c.case_ref || '(no case)')));
  }

  async function pageQueue(main, _arg, params) {
    const filter = queueFilter(params);
    const saved = queueState.load();
    const samePage = saved && JSON.stringify(saved.filter) === JSON.stringify(filter);
    const page = samePage ? Math.max(0, Number(params.get('page') || saved.page) || 0) : 0;
    const cursors = samePage ? saved.cursors : [''];
    const [gals, { q, res }, counts] = await Promise.all([galleryNames(), fetchQueuePage(filter, cursors, Math.min(page, cursors.length - 1)), api('/v1/review/counts')]);

    const setFilter = (k, v) => {
      const f = { ...filter, [k]: v };
      const p = new URLSearchParams();
      for (const key of filterKeys) p.set(key, f[key] || '');
      go('#/queue?' + p.toString());
    };
    const sel = (name, label, options) => h('label', {}, label, h('select', { name, onchange: (e) => setFilter(name, e.target.value) },
      options.map(([v, t]) => h('option', { value: v, selected: (filter[name] || '') === v, text: t }))));
    const text = (name, label, attrs) => h('label', {}, label, h('input', { name, value: filter[name] || '', ...attrs,
      onchange: (e) => setFilter(name, e.target.value.trim()) }));

    const filters = h('form', { class: 'panel filters', id: 'queue-filters', onsubmit: (e) => e.preventDefault() },
      sel('status', 'Status', [['pending,disputed', 'Pending and disputed'], ['pending', 'Pending'], ['disputed', 'Disputed'],
        ['potential_candidate', 'Potential candidate'], ['no_candidate', 'No candidate'], ['inconclusive', 'Inconclusive'], ['', 'Any']]),
      sel('gallery', 'Gallery', [['', 'All galleries'], ...[...gals.values()].map((g) => [String(g.id), `${g.name} (${g.kind})`])]),
      text('case', 'Case', { class: 'case', placeholder: 'case reference' }),
      text('job', 'Job', { type: 'number', min: 1, placeholder: 'ID' }),
      text('min_similarity', 'Similarity ≥', { type: 'number', step: '0.01', min: -1, max: 1 }),
      text('max_similarity', 'Similarity ≤', { type: 'number', step: '0.01', min: -1, max: 1 }),
      sel('possible_minor', 'Apparent age', [['', 'Any'], ['true', 'Possible minors only'], ['false', 'No possible minor']]),
      sel('order', 'Order', [['similarity', 'Most similar first'], ['minors', 'Possible minors first'], ['oldest', 'Oldest first'], ['newest', 'Newest first']]),
      me.role === 'reviewer' ? h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'reviewable', checked: filter.reviewable === 'true',
        onchange: (e) => setFilter('reviewable', e.target.checked ? 'true' : '') }), 'Only matches I can decide') : null);

    const first = q.page * PAGE + (res.items.length ? 1 : 0);
    const last = q.page * PAGE + res.items.length;
    const pager = () => h('div', { class: 'pager' },
      h('button', { type: 'button', disabled: q.page === 0, onclick: () => turn(-1), title: 'Previous page', text: '← Previous page' }),
      h('span', { class: 'queue-count', text: `${first.toLocaleString()}–${last.toLocaleString()} of ${res.total.toLocaleString()}` }),
      h('button', { type: 'button', disabled: !res.next_cursor, onclick: () => turn(1), title: 'Next page', text: 'Next page →' }),
      h('span', { class: 'help' }, h('kbd', { text: 'j' }), '/', h('kbd', { text: 'k' }), ' move, ', h('kbd', { text: 'Enter' }), ' open, ',
        h('kbd', { text: '[' }), '/', h('kbd', { text: ']' }), ' page'));
    function turn(dir) {
      const p = new URLSearchParams(location.hash.split('?')[1] || '');
      p.set('page', q.page + dir);
      go('#/queue?' + p.toString());
    }

    const rows = res.items.map((m) => {
      const g = gals.get(m.gallery_id);
      const origin = m.job_id ? `job ${m.job_id}` : `search ${m.search_id}`;
      return h('tr', { class: 'row', dataset: { id: m.id }, onclick: () => go('#/match/' + m.id) },
        h('td', {}, thumb(`/v1/probe-faces/${m.probe_face_id}/thumbnail`), m.possible_minor ? h('div', {}, minorBadge(m.probe_apparent_age)) : null),
        h('td', {}, thumb(`/v1/faces/${m.face_id}/thumbnail`)),
        h('td', {}, h('span', { class: 'sim', text: fmtSim(m.similarity) }), ' ', band(m.band)),
        h('td', {}, h('div', { text: m.subject_name || '—' }), h('div', { class: 'muted', text: g ? g.name : 'gallery ' + m.gallery_id })),
        h('td', { text: m.case_ref || '—' }),
        h('td', { text: origin }),
        h('td', { title: fmtTime(m.created_at), text: age(m.created_at) }),
        h('td', {}, status(m.status)),
        h('td', { text: m.decisions.length ? m.decisions.map((d) => `${d.reviewer}: ${human(d.decision)}`).join('; ') : '—' }));
    });
    const table = h('table', { id: 'queue' },
      h('thead', {}, h('tr', {}, ['Probe', 'Candidate', 'Similarity', 'Subject / gallery', 'Case', 'From', 'Age', 'Status', 'Decisions'].map((t) => h('th', { text: t })))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 9, class: 'muted', text: 'No match fits these filters.' }))));
    const byProbe = new URLSearchParams(queueQuery(filter, ''));
    byProbe.delete('order');
    byProbe.delete('limit');
    fill(main, h('h1', { text: 'Review queue' }), filters, reviewCounts(counts, gals),
      h('p', {}, h('a', { class: 'button', id: 'group-by-probe', href: '#/probes?' + byProbe.toString(), text: 'Group by probe face' })),
      pager(), table, rows.length > 10 ? pager() : null);

    if (!main.isConnected) return;
    let selected = -1;
    const select = (i) => {
      if (!rows.length) return;
      selected = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach((r, j) => r.classList.toggle('selected', j === selected));
      rows[selected].scrollIntoView({ block: 'nearest' });
    };
    pageKeys = (e, typing) => {
      if (typing) return;
      switch (e.key) {
        case 'j': case 'ArrowDown': select(selected + 1); break;
        case 'k': case 'ArrowUp': select(selected - 1); break;
        case 'Enter': case 'o': if (selected >= 0) go('#/match/' + res.items[selected].id); break;
        case ']': if (res.next_cursor) turn(1); break;
        case '[': if (q.page > 0) turn(-1); break;
        default: return;
      }
      e.preventDefault();
    };
  }

  // pageProbes is the queue grouped by probe face: one card per probe with its items side by
  // side, the probe with the most similar item first. The match view steps through the items
  // of the page in this order.
  async function pageProbes(main, _arg, params) {
    const filter = queueFilter(params);
    const q = new URLSearchParams(queueQuery(filter, params.get('cursor') || ''));
    q.delete('order');
    q.set('limit', 20);
    const [gals, res] = await Promise.all([galleryNames(), api('/v1/review/probes?' + q.toString())]);
    const ids = res.groups.flatMap((g) => g.items.map((m) => m.id));
    queueState.save({ filter, cursors: [''], page: 0, ids, next: '', total: ids.length, back: location.hash });
    const cards = res.groups.map((g) => {
      const first = g.items[0];
      const origin = first.job_id ? `job ${first.job_id}` : `search ${first.search_id}`;
      return h('section', { class: 'panel probe', dataset: { probe: g.probe_face_id } },
        h('div', {}, h('h3', { text: `Probe face ${g.probe_face_id}` }), thumb(`/v1/probe-faces/${g.probe_face_id}/thumbnail`, 'big'),
          h('p', { class: 'muted', text: `${origin}${first.case_ref ? ' · case ' + first.case_ref : ''} · ${age(first.created_at)}` })),
        h('div', {}, h('h3', { text: `${g.items.length} item${g.items.length === 1 ? '' : 's'}` }),
          h('div', { class: 'cands' }, g.items.map((m) => h('a', { href: '#/match/' + m.id, class: 'candidate', dataset: { match: m.id } },
            thumb(`/v1/faces/${m.face_id}/thumbnail`, 'mid'), h('div', {}, h('strong', { text: m.subject_name || '—' })),
            h('div', { class: 'muted', text: (gals.get(m.gallery_id) || {}).name || '' }),
            h('div', {}, h('span', { class: 'sim', text: fmtSim(m.similarity) }), ' ', band(m.band)), status(m.status))))));
    });
    const back = new URLSearchParams(queueQuery(filter, ''));
    back.delete('limit');
    const more = new URLSearchParams(q);
    more.delete('limit');
    more.set('cursor', res.next_cursor);
    fill(main, h('h1', { text: 'Review queue by probe face' }),
      h('p', { class: 'help', text: 'Each card is one face of an ad photo with its review items side by side. A potential candidate recorded with “close the rest” closes the card’s other items as no candidate.' }),
      h('div', { class: 'pager' }, h('a', { class: 'button', href: '#/queue?' + back.toString(), text: '↑ Queue as a list' }),
        params.get('cursor') ? h('a', { class: 'button', href: '#/probes?' + new URLSearchParams([...q].filter(([k]) => k !== 'cursor' && k !== 'limit')).toString(), text: '← First page' }) : null,
        res.next_cursor ? h('a', { class: 'button', id: 'probes-next', href: '#/probes?' + more.toString(), text: 'Next page →' }) : null),
      cards.length ? cards : h('p', { class: 'panel muted', text: 'No probe face has items that fit these filters.' }));
  }

  // neighbour finds the match before or after id in the listed queue, fetching the adjacent
  // page at an edge. It answers null at either end.
  async function neighbour(id, dir) {
    let q = queueState.load();
    if (!q) return null;
    const i = q.ids.indexOf(id);
    if (i < 0) return null;
    if (i + dir >= 0 && i + dir < q.ids.length) return q.ids[i + dir];
    if (dir > 0 && !q.next) return null;
    if (dir < 0 && q.page === 0) return null;
    ({ q } = await fetchQueuePage(q.filter, q.cursors, q.page + dir));
    if (!q.ids.length) return null;
    return dir > 0 ? q.ids[0] : q.ids[q.ids.length - 1];
  }

  // ---- match view ----------------------------------------------------------------------

  function metaList(pairs) {
    const rows = pairs.filter(([, v]) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && !v.length));
    if (!rows.length) return h('p', { class: 'muted', text: 'No ad metadata recorded.' });
    // An ad's URL is shown as text, not a link: opening it from an investigator's workstation
    // would contact the ad's site, which is the investigator's call to make, elsewhere.
    return h('dl', { class: 'meta' }, rows.map(([k, v]) => [h('dt', { text: k }),
      h('dd', { class: k === 'URL' ? 'url' : '', title: k === 'URL' ? 'Not a link: copy it to open it deliberately.' : null },
        Array.isArray(v) ? v.join(', ') : String(v))]));
  }
  const sourceMeta = (s) => metaList([['Site', s.site], ['URL', s.source_url], ['Ad ID', s.ad_id], ['Usernames', s.usernames],
    ['Phones', s.phones], ['Posted', fmtSourceTime(s.posted_at)], ['Collected', fmtSourceTime(s.collected_at)], ['Case', s.case_ref]]);
  const qualityMeta = (q, rejections) => metaList([['Detector score', q.score.toFixed(2)], ['Eye distance', Math.round(q.size) + ' px'],
    ['Face box', Math.round(q.box_size) + ' px'], ['Sharpness', Math.round(q.sharpness)], ['Frontalness', q.frontalness.toFixed(2)],
    ['Roll', q.roll.toFixed(1) + '°'], ['Refused by the quality gate', rejections]]);

  // Apparent age (issue 16): an estimate with its measured range, flagged under the line; a
  // triage aid shown with what it is and is not, never a finding.
  // The range is widened to whole years outwards, so that a flag never looks at odds with it.
  const ageRange = (a) => `${Math.floor(a.low)}–${Math.ceil(a.high)}`;
  const ageText = (a) => `looks ${Math.round(a.years)} (range ${ageRange(a)})`;
  const minorBadge = (a) => (a && a.possible_minor ? h('span', { class: 'badge minor',
    title: `Possible minor: apparent age ${Math.round(a.years)}, range ${ageRange(a)}, under the line of ${a.minor_line} with a range reaching under 18. A triage aid, never a finding.`,
    text: 'possible minor' }) : null);
  function ageMeta(a, none, meaning) {
    if (!a) return h('p', { class: 'muted age', text: 'No apparent-age estimate' + (none ? `: ${none}.` : '.') });
    return h('div', { class: 'age' }, h('p', {}, ageText(a), ' ', minorBadge(a)), meaning ? h('p', { class: 'help', text: meaning }) : null);
  }

  // A full photo is fetched only when asked for: its opening is audited by the API. The face's
  // box is drawn over it once its size is known.
  function photoButton(label, path, box) {
    const holder = h('div');
    const btn = h('button', { type: 'button', class: 'photo-button', text: label + ' (audited)', onclick: async () => {
      btn.disabled = true;
      try {
        const url = await objectURL(path);
        const img = h('img', { alt: 'full photo' });
        const wrap = h('div', { class: 'photo' }, img);
        img.addEventListener('load', () => {
          if (!box) return;
          const pct = (x, of) => `${(100 * x) / of}%`;
          const [w, ht] = [img.naturalWidth, img.naturalHeight];
          wrap.append(h('div', { class: 'box', style: { left: pct(box.X, w), top: pct(box.Y, ht), width: pct(box.W, w), height: pct(box.H, ht) } }));
        }, { once: true });
        img.src = url;
        fill(holder, wrap);
      } catch (err) { notify(err.message, true); btn.disabled = false; }
    } });
    holder.append(btn);
    return holder;
  }

  async function pageMatch(main, arg) {
    const id = Number(arg);
    const [v, gals] = await Promise.all([api(`/v1/matches/${id}/view`), galleryNames()]);
    const m = v.match;
    const probe = v.probe;
    const cand = v.candidate;
    const q = queueState.load();
    const pos = q ? q.ids.indexOf(id) : -1;

    const probeOrigin = m.job_id
      ? h('p', { class: 'muted' }, `Collection photo ${probe.image ? probe.image.id : ''} cross-matched by job ${m.job_id} (run by ${m.requested_by}).`)
      : h('p', { class: 'muted' }, `Uploaded to search ${m.search_id} by ${m.requested_by}, ${fmtTime(v.search.created_at)}. Purpose: “${v.search.purpose}”.`);
    const probePhoto = probe.image
      ? photoButton('Show full probe photo', `/v1/images/${probe.image.id}`, probe.face.box)
      : photoButton('Show full probe photo', `/v1/searches/${m.search_id}/photo`, probe.face.box);
    const probeSide = h('section', { class: 'panel side', id: 'probe' },
      h('h2', { text: 'Probe face' }), probeOrigin,
      thumb(`/v1/probe-faces/${m.probe_face_id}/thumbnail`, 'big'),
      h('h3', { text: 'Quality' }), qualityMeta(probe.face.quality, probe.face.rejections),
      h('h3', { text: 'Apparent age' }), ageMeta(probe.face.apparent_age, probe.face.no_age_reason, v.age_meaning),
      h('h3', { text: 'Ad metadata' }), sourceMeta(probe.source || {}), probePhoto);

    const subject = cand.subject;
    const candSide = h('section', { class: 'panel side', id: 'candidate' },
      h('h2', { text: 'Candidate face' }),
      h('p', {}, h('strong', { text: subject ? subject.name : 'No subject' }), subject && subject.external_ref ? ` (${subject.external_ref})` : '',
        h('br'), h('span', { class: 'muted', text: `${cand.gallery.name} · ${cand.gallery.kind} gallery · photo ${cand.image.id}` })),
      subject && subject.notes ? h('p', { class: 'muted', text: subject.notes }) : null,
      thumb(`/v1/faces/${m.face_id}/thumbnail`, 'big'),
      h('h3', { text: 'Quality' }), qualityMeta(cand.face.quality, cand.face.rejections),
      h('h3', { text: 'Apparent age' }), ageMeta(cand.face.apparent_age, cand.face.no_age_reason),
      h('h3', { text: 'Ad metadata' }), sourceMeta(cand.image.source || {}),
      photoButton('Show full candidate photo', `/v1/images/${cand.image.id}`, cand.face.box));

    const panel = decisionPanel(v);
    const decisions = m.decisions.length
      ? h('ul', { id: 'decisions' }, m.decisions.map((d) => h('li', {}, h('strong', { text: d.reviewer }), ': ', human(d.decision),
        d.note ? ` — “${d.note}”` : '', h('span', { class: 'muted', text: ' ' + fmtTime(d.created_at) }))))
      : h('p', { class: 'muted', id: 'decisions', text: 'No decision yet.' });

    const center = h('section', { class: 'panel center', id: 'verdict' },
      h('span', { class: 'sim', title: 'Similarity (cosine) of the two faces', text: fmtSim(m.similarity) }),
      // Band and status share a line, so that the decision stays in view at 1280×800.
      h('p', {}, band(v.band.name), ' · status: ', h('span', { id: 'match-status' }, status(m.status))),
      h('p', { class: 'help', id: 'sim-meaning', title: v.band.meaning, text: v.meaning || v.band.meaning }),
      // The decision comes before the rest, so that its button is in view at 1280×800.
      panel.el,
      h('h3', { text: 'Decisions' }), decisions,
      h('p', { class: 'help', text: `Final when ${v.reviewers_required} reviewers agree; disputed when two disagree, then settled by the next reviewer's decision, with a note.` }),
      h('p', { class: 'help' }, `rank ${m.rank} · model `, model(v.model)));

    const others = h('section', { class: 'panel' }, h('h2', { text: 'Other candidates for this probe face' }),
      v.other_candidates.length ? h('div', { class: 'others' }, v.other_candidates.map((o) => h('a', { href: '#/match/' + o.id },
        thumb(`/v1/faces/${o.face_id}/thumbnail`, 'mid'), h('div', { text: o.subject_name || (gals.get(o.gallery_id) || {}).name || '' }),
        h('div', {}, h('span', { class: 'sim', text: fmtSim(o.similarity) }), ' ', band(o.band)), status(o.status))))
        : h('p', { class: 'muted', text: 'No other candidate.' }));

    // A job's item into a collection stands for every photo of the suggested person that
    // scored against this subject: the reviewer sees them all, the best pair above.
    const support = (v.support || []).length ? h('section', { class: 'panel', id: 'support' },
      h('h2', {}, `${v.support.length} photo${v.support.length === 1 ? '' : 's'} of `,
        h('a', { href: '#/person/' + m.person_id, text: `suggested person ${m.person_id}` }), ' behind this item'),
      h('p', { class: 'help', text: 'Each of these faces, grouped as one person by face similarity, scored at or above the line against this subject. The grouping is a proposal too: check that they are one person.' }),
      h('div', { class: 'others' }, v.support.map((s) => h('a', { href: '#/person/' + m.person_id, title: `photo ${s.image_id}` },
        thumb(`/v1/faces/${s.face_id}/thumbnail`, 'mid'), h('div', {}, h('span', { class: 'sim', text: fmtSim(s.similarity) }),
          s.face_id === (probe.face.face_id || 0) ? ' (shown above)' : ''))))) : null;

    const nav = h('div', { class: 'pager' },
      h('a', { class: 'button', href: (q && q.back) || '#/queue', text: q && q.back && q.back.startsWith('#/search') ? '↑ Search' : '↑ Queue' }),
      h('button', { type: 'button', onclick: () => step(-1), text: '← Previous', title: 'p' }),
      h('button', { type: 'button', onclick: () => step(1), text: 'Next →', title: 'n' }),
      pos >= 0 ? h('span', { class: 'muted', text: `${(q.page * PAGE + pos + 1).toLocaleString()} of ${q.total.toLocaleString()} in the queue` }) : null,
      h('span', { class: 'help' }, h('kbd', { text: 'n' }), '/', h('kbd', { text: 'p' }), ' next/previous, ',
        me.role === 'reviewer' ? [h('kbd', { text: '1' }), h('kbd', { text: '2' }), h('kbd', { text: '3' }), ' decide, ', h('kbd', { text: 'Enter' }), ' record, '] : null,
        h('kbd', { text: 'f' }), ' full photos'),
      reportButtons('matches', m.id));

    fill(main, h('h1', {}, `Match ${m.id} `, status(m.status)), nav, h('div', { class: 'compare' }, probeSide, center, candSide), support, others);
    if (!main.isConnected) return;

    async function step(dir) {
      try {
        const next = await neighbour(id, dir);
        if (next) go('#/match/' + next); else notify(dir > 0 ? 'This is the last match of the queue.' : 'This is the first match of the queue.');
      } catch (err) { notify(err.message, true); }
    }
    const decideKeys = panel.keys;
    pageKeys = (e, typing) => {
      if (!typing && (e.key === 'n' || e.key === 'ArrowRight')) { e.preventDefault(); step(1); return; }
      if (!typing && (e.key === 'p' || e.key === 'ArrowLeft')) { e.preventDefault(); step(-1); return; }
      if (!typing && e.key === 'f') { e.preventDefault(); main.querySelectorAll('.photo-button').forEach((b) => !b.disabled && b.click()); return; }
      if (decideKeys) decideKeys(e, typing);
    };
  }

  // decisionPanel is the decision form, shown to reviewers only, and its keys (1/2/3, Enter).
  function decisionPanel(v) {
    if (me.role !== 'reviewer') return { el: h('p', { class: 'muted', id: 'no-decide', text: 'Only reviewers decide matches.' }) };
    if (!v.can_decide) {
      // Having decided, or a final match, is a state, not a refusal: said plainly, not in red.
      const state = /already decided|final/.test(v.cannot_decide);
      return {
        el: h('p', { class: state ? 'muted' : 'refusal', id: 'cannot-decide', text: (state ? 'No decision to record here: ' : 'You cannot decide this match: ') + v.cannot_decide + '.' }),
        keys: (e, typing) => {
          if (!typing && DECISIONS.some((d) => d.key === e.key)) { e.preventDefault(); notify('Refused: ' + v.cannot_decide, true); }
        },
      };
    }
    let chosen = null;
    // A disputed match is settled by this decision: it needs a note, whatever it is.
    const settles = v.match.status === 'disputed';
    const needsNote = (value) => value === 'potential_candidate' || settles;
    const note = h('textarea', { id: 'note', rows: 2, placeholder: 'Why (required for a potential candidate). Enter records, Shift+Enter a new line, Esc leaves.' });
    const error = h('p', { class: 'refusal', id: 'decide-error' });
    // With a potential candidate, the probe face's other candidates can be closed in the same
    // step (each closure is a decision of its own, audited, under the same two-reviewer rule).
    const others = v.other_candidates.length;
    const closeOthers = h('input', { type: 'checkbox', id: 'close-others' });
    const buttons = DECISIONS.map((d) => h('button', { type: 'button', dataset: { decision: d.value }, onclick: () => choose(d.value, false) },
      h('kbd', { text: d.key }), ' ', d.label));
    const submit = h('button', { type: 'button', class: 'primary', id: 'record', disabled: true, onclick: () => record() }, 'Record decision ', h('kbd', { text: 'Enter' }));
    function choose(value, byKey) {
      chosen = value;
      buttons.forEach((b) => b.classList.toggle('chosen', b.dataset.decision === value));
      submit.disabled = false;
      error.textContent = '';
      if (needsNote(value) && !note.value.trim()) {
        // A key leaves the focus where it is, so that n, p, f and Enter keep working; Enter
        // then goes to the note. A click goes to the note at once.
        if (byKey) error.textContent = (settles ? 'Settling a dispute' : 'A potential candidate') + ' needs a note: Enter to write it.'; else note.focus();
      }
    }
    let busy = false;
    async function record() {
      if (!chosen || busy) return;
      if (needsNote(chosen) && !note.value.trim()) {
        error.textContent = (settles ? 'Settling a dispute' : 'A potential candidate') + ' needs a note: say what you compared.';
        note.focus();
        return;
      }
      busy = true;
      try {
        const close = chosen === 'potential_candidate' && closeOthers.checked;
        const m = await api(`/v1/matches/${v.match.id}/decisions`, { method: 'POST', json: { decision: chosen, note: note.value.trim(), close_others: close } });
        render();
        const closed = (m.closed_others || []).length;
        notify(`Recorded ${human(chosen)} on match ${m.id}. Status: ${human(m.status)}.` + (close ? ` Closed ${closed} other candidate${closed === 1 ? '' : 's'} as no candidate.` : ''));
      } catch (err) {
        error.textContent = err.message;
        busy = false;
      }
    }
    const keys = (e, typing) => {
      if (typing) {
        if (e.target !== note) return;
        if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); record(); }
        if (e.key === 'Escape') { e.preventDefault(); note.blur(); }
        return;
      }
      const d = DECISIONS.find((x) => x.key === e.key);
      if (d) { e.preventDefault(); choose(d.value, true); return; }
      if (e.key === 'Enter' && chosen) { e.preventDefault(); record(); }
    };
    const el = h('div', { class: 'decide', id: 'decide' }, h('h3', { text: settles ? 'Your decision settles the dispute' : 'Your decision' }), h('div', { class: 'choices' }, buttons),
      h('label', {}, 'Note', note), error, h('div', {}, submit),
      others ? h('label', { class: 'help' }, closeOthers, ` With a potential candidate, close this probe's ${others} other candidate${others === 1 ? '' : 's'} as no candidate`) : null);
    return { el, keys };
  }

  // ---- search (analysts) ---------------------------------------------------------------

  async function pageSearch(main, arg) {
    if (arg) { await showSearch(main, Number(arg)); return; }
    const gals = await galleryNames();
    // Reference galleries are searched by default; collections (other ads) on request, to find
    // the same person across ad accounts.
    const all = [...gals.values()].sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'reference' ? -1 : 1));
    const file = h('input', { type: 'file', name: 'image', id: 'probe-file', accept: 'image/*', required: true });
    const preview = h('img', { class: 'thumb big', alt: '' });
    file.addEventListener('change', () => {
      const f = file.files[0];
      if (!f) return;
      const url = URL.createObjectURL(f);
      onLeave(() => URL.revokeObjectURL(url));
      preview.src = url;
    });
    const field = (name, label, attrs = {}) => h('label', {}, label, h('input', { name, ...attrs }));
    const error = h('p', { class: 'refusal', id: 'search-error' });
    const submit = h('button', { class: 'primary', type: 'submit', id: 'search-submit', text: 'Search' });
    const form = h('form', { class: 'panel', id: 'search-form', onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      const fd = new FormData(form);
      const chosen = fd.getAll('gallery');
      fd.delete('gallery');
      if (!chosen.length) { error.textContent = 'Pick at least one gallery.'; return; }
      fd.set('galleries', chosen.join(','));
      for (const [k, val] of [...fd.entries()]) if (val === '') fd.delete(k);
      submit.disabled = true;
      submit.textContent = 'Searching…';
      try {
        const res = await api('/v1/searches', { method: 'POST', form: fd });
        go('#/search/' + res.search.id);
      } catch (err) {
        error.textContent = err.message;
        submit.disabled = false;
        submit.textContent = 'Search';
      }
    } },
    h('div', { class: 'two' },
      h('div', {}, h('label', {}, 'Photo from the ad', file), h('div', {}, preview)),
      h('div', {},
        h('h3', { text: 'Galleries' }),
        all.length ? all.map((g) => h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'gallery', value: g.id, checked: g.kind === 'reference' }),
          g.kind === 'reference' ? `${g.name}: reference, ${g.subjects} subjects, ${g.faces} faces` : `${g.name}: ad collection, ${g.images} photos, ${g.faces} faces`))
          : h('p', { class: 'muted', text: 'No gallery yet.' }),
        h('h3', { text: 'Why' }),
        h('div', { class: 'filters' }, field('purpose', 'Purpose (required, audited)', { required: true, size: 40, id: 'purpose' }),
          field('case_ref', 'Case reference', { id: 'case-ref' }), field('k', 'Candidates per face', { type: 'number', min: 1, max: 100, value: 20 })),
        h('details', { id: 'ad-metadata' }, h('summary', { text: 'Where the photo came from (optional)' }),
          h('div', { class: 'filters' }, field('site', 'Site', { id: 'site' }), field('source_url', 'Ad URL', { size: 40 }), field('ad_id', 'Ad ID'),
            field('usernames', 'Usernames (comma-separated)', { id: 'usernames' }), field('phones', 'Phones (comma-separated)', { id: 'phones' }),
            field('posted_at', 'Posted', { type: 'date' }))),
        error, h('p', {}, submit))));
    fill(main, h('h1', { text: 'Search a photo' }), form);
  }

  async function showSearch(main, id) {
    const [s, gals] = await Promise.all([api('/v1/searches/' + id), galleryNames()]);
    // Only candidates at or above their gallery's threshold (or sent by an analyst) are review
    // items; the others are shown here alone, and an analyst may send one for review.
    const items = s.faces.flatMap((f) => f.candidates.filter((c) => c.match_id).map((c) => c.match_id));
    queueState.save({ filter: { search: String(id) }, cursors: [''], page: 0, ids: items, next: '', total: items.length, back: '#/search/' + id });
    const canSend = me.role === 'analyst';
    function card(c) {
      const body = [thumb(`/v1/faces/${c.face_id}/thumbnail`, 'mid'), h('div', {}, h('strong', { text: c.subject_name || '—' })),
        h('div', { class: 'muted', text: (gals.get(c.gallery_id) || {}).name || '' }),
        h('div', { title: c.meaning || '' }, h('span', { class: 'sim', text: fmtSim(c.similarity) }), ' ', band(c.band))];
      if (c.match_id) {
        return h('a', { href: '#/match/' + c.match_id, class: 'candidate', dataset: { match: c.match_id } }, body,
          status(c.status), c.reused ? h('div', { class: 'muted', text: 'from an earlier search of this photo' }) : null);
      }
      const send = canSend ? h('button', { type: 'button', class: 'send-review', onclick: async () => {
        send.disabled = true;
        try {
          const r = await api(`/v1/searches/${id}/review`, { method: 'POST', json: { probe_face_id: c.probe_face_id, face_id: c.face_id } });
          notify(`Sent for review as match ${r.match_id}.`);
          render();
        } catch (err) { send.disabled = false; notify(err.message, true); }
      }, text: 'Send for review' }) : null;
      return h('div', { class: 'candidate below', dataset: { face: c.face_id } }, body, h('div', { class: 'muted', text: 'below the review threshold' }), send);
    }
    const faces = s.faces.map((pr, i) => {
      const p = pr.face;
      const cands = pr.candidates;
      const n = cands.filter((c) => c.match_id).length;
      return h('section', { class: 'panel probe', dataset: { probe: p.id } },
        h('div', {}, h('h3', { text: `Face ${i + 1}` }), thumb(`/v1/probe-faces/${p.id}/thumbnail`, 'big'),
          p.rejections ? h('p', { class: 'refusal', text: 'Not searched: ' + p.rejections.join('; ') }) : null,
          p.apparent_age ? h('p', { class: 'age' }, ageText(p.apparent_age), ' ', minorBadge(p.apparent_age)) : null,
          p.apparent_age && p.apparent_age.possible_minor ? h('p', { class: 'help', text: 'This face looks under 18: its candidates are judged under the children\'s line, and its review items go first in the minors order.' }) : null),
        h('div', {}, h('h3', { text: cands.length ? `${cands.length} candidates, ${n} for review` : 'No candidate' }),
          h('div', { class: 'cands' }, cands.map(card))));
    });
    const thresholds = h('ul', { class: 'help', id: 'thresholds' }, s.galleries.map((op) => h('li', {},
      h('strong', { text: ((gals.get(op.gallery_id) || {}).name || 'gallery ' + op.gallery_id) + ': ' }), op.meaning)));
    fill(main, h('h1', { text: `Search ${id}` }),
      h('p', { class: 'muted', text: `By ${s.search.actor}, ${fmtTime(s.search.created_at)}. Purpose: “${s.search.purpose}”.${s.search.source.case_ref ? ' Case ' + s.search.source.case_ref + '.' : ''}` }),
      thresholds,
      h('p', {}, h('a', { class: 'button', href: '#/search', text: 'New search' })),
      ...(s.faces.length ? faces : [h('p', { class: 'panel', text: 'No face was found in this photo.' })]));
  }

  // ---- galleries and jobs --------------------------------------------------------------

  async function pageGalleries(main) {
    const gals = [...(await galleryNames()).values()];
    fill(main, h('h1', { text: 'Galleries' }), me.role === 'admin' ? newGalleryForm(gals) : null, h('table', { id: 'galleries' },
      h('thead', {}, h('tr', {}, ['Name', 'Kind', 'Model', 'Subjects', 'Photos', 'Faces', 'Created'].map((t) => h('th', { text: t })))),
      h('tbody', {}, gals.map((g) => h('tr', { class: 'row', onclick: () => go('#/gallery/' + g.id) },
        h('td', {}, h('a', { href: '#/gallery/' + g.id, text: g.name })), h('td', { text: g.kind }), h('td', { class: 'muted' }, model(g.model)),
        h('td', { text: g.kind === 'reference' ? g.subjects : '—' }), h('td', { text: g.images }), h('td', { text: g.faces }),
        h('td', { text: `${fmtTime(g.created_at)} by ${g.created_by}` }))))));
  }

  // photoCards shows photos with their faces; subjects (id → name), for a reference gallery,
  // names whose photo each one is; action(image), when given, adds a control to each card.
  function photoCards(items, subjects, action) {
    return h('div', { class: 'grid' }, items.map(({ image, faces }) => h('div', { class: 'card', dataset: { image: image.id } },
      subjects && image.subject_id ? h('div', { class: 'subject-name', text: subjects.get(image.subject_id) || `Subject ${image.subject_id}` }) : null,
      h('div', { class: 'faces' }, faces.length ? faces.map((f) => {
        const t = thumb(`/v1/faces/${f.id}/thumbnail`, 'mid');
        if (f.rejections) t.title = 'refused: ' + f.rejections.join('; ');
        return t;
      }) : h('span', { class: 'muted', text: 'no face' })),
      h('div', {}, `Photo ${image.id} · ${image.width}×${image.height} ${image.format}`),
      image.source.site || image.source.usernames ? h('div', { class: 'muted', text: [image.source.site, (image.source.usernames || []).join(', ')].filter(Boolean).join(' · ') }) : null,
      photoButton('Open photo', `/v1/images/${image.id}`, faces.length === 1 ? faces[0].box : null),
      action ? action(image, faces) : null)));
  }

  // removePhoto is an admin's control on a photo card: the photo goes with its faces.
  const removePhoto = (image, faces) => confirmAction({ label: 'Remove photo', cls: 'remove-photo',
    question: `Remove photo ${image.id} and its ${faces.length === 1 ? 'face' : faces.length + ' faces'} (vectors, thumbnails, matches)?`, yes: 'Remove',
    act: async () => { await api('/v1/images/' + image.id, { method: 'DELETE' }); notify(`Removed photo ${image.id}.`); render(); } });

  async function pageGallery(main, arg, params) {
    const id = Number(arg);
    const tab = params.get('tab') || 'photos';
    const cursor = params.get('cursor') || '';
    const subjectID = params.get('subject') || '';
    const gals = await galleryNames();
    const g = gals.get(id);
    if (!g) throw new APIError(404, `gallery ${id} not found`);
    const isAdmin = me.role === 'admin';
    const mayEnrol = isAdmin || me.role === 'analyst'; // as the API allows
    const tabs = [['photos', g.kind === 'reference' ? 'Photos' : 'Collected photos'], ['jobs', 'Jobs'], ['policy', 'Review threshold']];
    if (g.kind === 'collection') tabs.splice(1, 0, ['persons', 'Persons']);
    if (g.kind === 'reference') tabs.unshift(['subjects', 'Subjects']);
    if (isAdmin) tabs.push(['delete', 'Delete…']);
    const head = [h('h1', { text: g.name }),
      h('p', { class: 'muted' }, `${g.kind} gallery · model `, model(g.model),
        g.kind === 'reference' ? ` · ${g.subjects} subjects` : '', ` · ${g.images} photos · ${g.faces} faces`),
      h('div', { class: 'pager' }, tabs.map(([t, label]) => h('a', { class: 'button' + (t === tab ? ' primary' : ''), href: `#/gallery/${id}?tab=${t}`, text: label })),
        g.kind === 'reference' ? h('a', { class: 'button', href: `#/queue?gallery=${id}`, text: 'Matches against this gallery' }) : null)];

    if (tab === 'delete' && isAdmin) {
      fill(main, ...head, deleteGalleryPanel(g));
      return;
    }
    if (tab === 'policy') {
      fill(main, ...head, policyPanel(g, isAdmin));
      return;
    }
    if (tab === 'persons') {
      fill(main, ...head, await personsPanel(g, isAdmin, params.get('order') || 'size', params.get('possible_minor') === 'true'));
      return;
    }
    if (tab === 'subjects') {
      const subs = (await api(`/v1/galleries/${id}/subjects`)).subjects;
      let photos = null;
      if (subjectID) {
        const r = await api(`/v1/galleries/${id}/images?subject=${encodeURIComponent(subjectID)}&limit=100`);
        const s = subs.find((x) => String(x.id) === subjectID);
        photos = h('section', { class: 'panel', id: 'subject-panel' }, h('h2', { text: `${s ? s.name : 'Subject ' + subjectID}: faces and photos` }),
          s ? h('p', { class: 'muted', id: 'subject-faces', text: `${s.faces} ${s.faces === 1 ? 'face' : 'faces'}${s.external_ref ? ' · ' + s.external_ref : ''}` }) : null,
          r.items.length ? photoCards(r.items, null, isAdmin ? removePhoto : null) : h('p', { class: 'muted', text: 'No photo yet.' }),
          s && mayEnrol ? h('div', { class: 'two' }, enrolForm(id, s), editSubjectForm(s)) : null);
      }
      fill(main, ...head, mayEnrol ? newSubjectForm(id, !subs.length) : null, photos, h('table', { id: 'subjects' },
        h('thead', {}, h('tr', {}, ['Name', 'Reference', 'Faces', 'Notes', 'Added'].map((t) => h('th', { text: t })))),
        h('tbody', {}, subs.map((s) => h('tr', { class: 'row' + (String(s.id) === subjectID ? ' selected' : ''), onclick: () => go(`#/gallery/${id}?tab=subjects&subject=${s.id}`) },
          h('td', { text: s.name }), h('td', { text: s.external_ref || '' }), h('td', { text: s.faces }), h('td', { class: 'muted', text: s.notes || '' }),
          h('td', { text: fmtTime(s.created_at) }))))));
      return;
    }
    if (tab === 'jobs') {
      fill(main, ...head, await jobsTable(`/v1/jobs?gallery=${id}&limit=100`, gals));
      return;
    }
    const r = await api(`/v1/galleries/${id}/images?limit=48${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
    const subjects = g.kind === 'reference' ? new Map((await api(`/v1/galleries/${id}/subjects`)).subjects.map((x) => [x.id, x.name])) : null;
    fill(main, ...head, photoCards(r.items, subjects), h('div', { class: 'pager' },
      cursor ? h('a', { class: 'button', href: `#/gallery/${id}?tab=photos`, text: '⇤ First page' }) : null,
      r.next_cursor ? h('a', { class: 'button', href: `#/gallery/${id}?tab=photos&cursor=${r.next_cursor}`, text: 'Next page →' }) : null));
  }

  // pageRetention is the retention policy: how long a finished search (every item decided no
  // candidate or inconclusive, or none made) keeps its probe photo and records.
  async function pageRetention(main) {
    const p = await api('/v1/settings/retention');
    const days = h('input', { type: 'number', id: 'search-days', step: 1, value: p.search_days, required: true }); // the API says what is allowed
    const error = h('p', { class: 'refusal', id: 'retention-error' });
    const now = h('p', { id: 'retention-now' });
    const say = (d) => { now.textContent = d ? `Finished searches are deleted ${d} day${d === 1 ? '' : 's'} after they were made.` : 'Searches are kept for ever.'; };
    say(p.search_days);
    const form = h('form', { class: 'panel', id: 'retention-form', onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      try {
        const r = await api('/v1/settings/retention', { method: 'PUT', json: { search_days: Number(days.value) } });
        say(r.search_days);
        notify('Saved.');
      } catch (err) { error.textContent = err.message; }
    } },
    h('h2', { text: 'Searches' }), now,
    h('p', { class: 'help', text: 'A search whose review is over (every item it made decided no candidate or inconclusive, or none made) is deleted after this many days with its probe photo, face thumbnails, candidates, items and decisions; the audit log keeps its IDs. Searches with an item still open or a potential candidate are kept: they are evidence. 0 keeps every search. The service applies the policy at every sweep, audited per search as search.expire.' }),
    h('label', {}, 'Days to keep a finished search (0: for ever)', days), error,
    h('p', {}, h('button', { class: 'primary', type: 'submit', id: 'retention-save', text: 'Save' })));
    fill(main, h('h1', { text: 'Retention' }), form,
      h('p', { class: 'help', text: 'Uploaded job archives and sidecars are deleted when their job is done; deleting a gallery, subject or photo deletes everything derived from it at once.' }));
  }

  // pageLookup answers an analyst's first question: which stored photos carry this phone,
  // username, URL or ad ID? The value is normalised as stored (a phone written any way).
  async function pageLookup(main, _arg, params) {
    const kinds = [['phone', 'Phone'], ['username', 'Username'], ['url', 'Ad URL'], ['ad_id', 'Ad ID']];
    const kind = params.get('kind') || 'phone';
    const value = params.get('value') || '';
    const site = params.get('site') || '';
    const kindSel = h('select', { id: 'lookup-kind' }, kinds.map(([k, label]) => h('option', { value: k, selected: k === kind, text: label })));
    const valueIn = h('input', { id: 'lookup-value', value, size: 40, required: true });
    const siteIn = h('input', { id: 'lookup-site', value: site, placeholder: 'any site' });
    const form = h('form', { class: 'panel filters', id: 'lookup-form', onsubmit: (e) => {
      e.preventDefault();
      const q = new URLSearchParams({ kind: kindSel.value, value: valueIn.value.trim() });
      if (kindSel.value === 'username' && siteIn.value.trim()) q.set('site', siteIn.value.trim());
      go('#/lookup?' + q.toString());
    } },
    h('label', {}, 'Look up', kindSel), h('label', {}, 'Value (as written in the ad)', valueIn), h('label', {}, 'Site (usernames only)', siteIn),
    h('button', { class: 'primary', type: 'submit', id: 'lookup-submit', text: 'Look up' }));
    const parts = [h('h1', { text: 'Look-up' }), form];
    if (value) {
      const q = new URLSearchParams({ [kind]: value });
      if (kind === 'username' && site) q.set('site', site);
      try {
        const [res, gals] = await Promise.all([api('/v1/lookup?' + q.toString()), galleryNames()]);
        parts.push(h('p', { id: 'lookup-summary', text: `${res.images.length}${res.more ? '+' : ''} ${res.images.length === 1 && !res.more ? 'photo carries' : 'photos carry'} ${human(res.contact.kind)} ${res.contact.value}.` }),
          res.images.length ? h('table', { id: 'lookup-results' },
            h('thead', {}, h('tr', {}, ['Photo', 'Gallery', 'Site', 'Usernames', 'Phones', 'Ad', 'Posted', 'Stored'].map((t) => h('th', { text: t })))),
            h('tbody', {}, res.images.map((img) => {
              const src = img.source || {};
              return h('tr', {}, h('td', { text: img.id }),
                h('td', {}, h('a', { href: `#/gallery/${img.gallery_id}`, text: (gals.get(img.gallery_id) || {}).name || `gallery ${img.gallery_id}` })),
                h('td', { text: src.site || '' }), h('td', { text: (src.usernames || []).join(', ') }), h('td', { text: (src.phones || []).join(', ') }),
                h('td', { text: src.ad_id || src.source_url || '' }), h('td', { text: fmtSourceTime(src.posted_at) }), h('td', { text: fmtTime(img.created_at) }));
            }))) : null);
      } catch (err) {
        if (err.status === 401) throw err;
        parts.push(h('p', { class: 'refusal', id: 'lookup-error', text: err.message }));
      }
    }
    fill(main, ...parts);
  }

  // personsPanel lists a collection's suggested persons: faces that may show one person, with
  // the contact details of their ads. An admin clusters the faces again from here.
  async function personsPanel(g, isAdmin, order, minorsOnly) {
    const res = await api(`/v1/galleries/${g.id}/persons?order=${encodeURIComponent(order)}${minorsOnly ? '&possible_minor=true' : ''}`);
    const error = h('p', { class: 'refusal', id: 'cluster-error' });
    const run = isAdmin ? h('button', { type: 'button', id: 'cluster-run', onclick: async () => {
      run.disabled = true;
      error.textContent = '';
      try {
        const r = await api(`/v1/galleries/${g.id}/cluster`, { method: 'POST' });
        notify(`Clustered ${r.faces} faces: ${r.persons} persons, ${r.singletons} faces alone.`);
        render();
      } catch (err) { run.disabled = false; error.textContent = err.message; }
    }, text: 'Cluster the faces again' }) : null;
    const top = (p, kind) => p.contacts.filter((c) => c.kind === kind).slice(0, 2).map((c) => `${c.value} (${c.photos})`).join(', ');
    const cards = res.persons.map((p) => h('a', { class: 'candidate', href: '#/person/' + p.id, dataset: { person: p.id } },
      thumb(`/v1/faces/${p.representative_face_id}/thumbnail`, 'mid'),
      h('div', {}, h('strong', { text: `${p.size} photos` })),
      h('div', { class: 'muted', text: top(p, 'username') || top(p, 'phone') || 'no contact details' }),
      h('div', { class: 'muted', text: `last seen ${fmtSourceTime(p.last_seen)}` }),
      p.apparent_age ? h('div', { class: 'age', title: 'Median apparent age of its faces, a model\'s estimate of how old they look, never the person\'s age' },
        ageText(p.apparent_age), ' ', minorBadge(p.apparent_age)) : null,
      p.cross_match ? h('div', { class: 'cross-match', title: 'The most similar review item its faces made against a reference gallery', text: `${p.cross_match.items} review item${p.cross_match.items === 1 ? '' : 's'}, best ${fmtSim(p.cross_match.similarity)}` }) : null));
    let cursor = -1;
    pageKeys = (e, typing) => {
      if (typing || !cards.length) return;
      switch (e.key) {
        case 'j': case 'ArrowRight': case 'ArrowDown': cursor = Math.min(cards.length - 1, cursor + 1); break;
        case 'k': case 'ArrowLeft': case 'ArrowUp': cursor = Math.max(0, cursor - 1); break;
        case 'Enter': case 'o': if (cursor >= 0) go('#/person/' + res.persons[cursor].id); e.preventDefault(); return;
        default: return;
      }
      cards.forEach((c, j) => c.classList.toggle('selected', j === cursor));
      cards[cursor].scrollIntoView({ block: 'nearest' });
      e.preventDefault();
    };
    return h('section', { class: 'panel', id: 'persons' },
      h('h2', { text: `${res.persons.length} suggested person${res.persons.length === 1 ? '' : 's'}` }),
      cards.length ? h('p', { class: 'help' }, h('kbd', { text: 'j' }), '/', h('kbd', { text: 'k' }), ' move, ', h('kbd', { text: 'Enter' }), ' open') : null,
      h('p', { class: 'help', text: 'Each is a proposal that these ad photos show one person (faces clustered at a line that keeps precision first); it names no one. Two faces of one photo are never put together.' }),
      h('p', {}, h('a', { class: 'button' + (order === 'size' ? ' primary' : ''), href: `#/gallery/${g.id}?tab=persons&order=size`, text: 'Largest first' }), ' ',
        h('a', { class: 'button' + (order === 'recent' ? ' primary' : ''), href: `#/gallery/${g.id}?tab=persons&order=recent`, text: 'Most recent first' }), ' ',
        h('a', { class: 'button' + (order === 'score' ? ' primary' : ''), href: `#/gallery/${g.id}?tab=persons&order=score`, text: 'Best cross-match first' }), ' ',
        h('a', { class: 'button' + (order === 'minors' ? ' primary' : ''), href: `#/gallery/${g.id}?tab=persons&order=minors`, text: 'Possible minors first' }), ' ',
        h('a', { class: 'button' + (minorsOnly ? ' primary' : ''), id: 'persons-minors-only',
          href: `#/gallery/${g.id}?tab=persons&order=${encodeURIComponent(order)}${minorsOnly ? '' : '&possible_minor=true'}`, text: minorsOnly ? 'All persons' : 'Possible minors only' }), ' ', run),
      error, cards.length ? h('div', { class: 'cands' }, cards) : h('p', { class: 'muted', text: 'No person yet: the faces have not been clustered, or none look alike.' }));
  }

  // pagePerson is one suggested person: its faces side by side and what its ads share.
  async function pagePerson(main, arg) {
    const p = await api('/v1/persons/' + Number(arg));
    const gals = await galleryNames();
    const reviewer = me.role === 'reviewer';
    const error = h('p', { class: 'refusal', id: 'person-error' });
    const note = h('input', { id: 'person-note', size: 50, placeholder: 'why (kept in the audit log)' });
    const act = async (path, body, done) => {
      error.textContent = '';
      try {
        await api(`/v1/persons/${p.id}/${path}`, { method: 'POST', json: { note: note.value, ...body } });
        notify(done);
        render();
      } catch (err) { error.textContent = err.message; }
    };
    // A reviewer picks faces (click the box, or x on the face under the cursor) to split them
    // off into a new person.
    const picked = new Set();
    const splitButton = h('button', { type: 'button', id: 'person-split', disabled: true, onclick: () => split(), text: 'Split the picked faces into a new person' });
    const repick = () => {
      splitButton.disabled = picked.size === 0;
      splitButton.textContent = picked.size ? `Split ${picked.size} picked face${picked.size === 1 ? '' : 's'} into a new person` : 'Split the picked faces into a new person';
    };
    const split = async (supersede) => {
      error.textContent = '';
      try {
        const r = await api(`/v1/persons/${p.id}/split`, { method: 'POST', json: { note: note.value, face_ids: [...picked], supersede: !!supersede } });
        notify(`Split: the picked faces are now person ${r.id}, and will stay apart from these.`);
        render();
      } catch (err) {
        error.textContent = err.message;
        if (err.status === 409 && err.message.includes('supersede')) {
          error.append(' ', h('button', { type: 'button', id: 'person-split-supersede', onclick: () => split(true), text: 'Split anyway (replaces that judgement)' }));
        }
      }
    };
    const faceCards = p.faces.map((f) => {
      const box = reviewer ? h('input', { type: 'checkbox', class: 'pick-face', title: 'Pick for a split (x)', onchange: (e) => {
        if (e.target.checked) picked.add(f.face_id); else picked.delete(f.face_id);
        card.classList.toggle('picked', e.target.checked);
        repick();
      } }) : null;
      const quality = f.quality ? `sharp ${Math.round(f.quality.sharpness)} · frontal ${f.quality.frontalness.toFixed(2)}` : '';
      const card = h('div', { class: 'below face-card', dataset: { face: f.face_id } },
        thumb(`/v1/faces/${f.face_id}/thumbnail`, 'mid'),
        h('div', {}, box, h('span', { class: 'sim', title: 'Similarity to the person\'s mean face', text: fmtSim(f.similarity) })),
        h('div', { class: 'muted', title: 'Face quality', text: quality }),
        f.apparent_age ? h('div', { class: 'age muted' }, ageText(f.apparent_age), ' ', minorBadge(f.apparent_age)) : null,
        h('div', { class: 'muted', text: [f.source.site, fmtSourceTime(f.source.posted_at)].filter(Boolean).join(' · ') || 'photo ' + f.image_id }),
        reviewer ? h('button', { type: 'button', class: 'remove-face', onclick: () => act('remove-face', { face_id: f.face_id }, 'The face is out of this person.'), text: 'Not this person' }) : null);
      card.pick = () => { if (box) { box.checked = !box.checked; box.dispatchEvent(new Event('change')); } };
      return card;
    });
    const faces = h('div', { class: 'cands', id: 'person-faces' }, faceCards);
    const mergeWith = h('input', { id: 'merge-with', type: 'number', min: 1, placeholder: 'person ID' });
    // An analyst searches the person as a whole: one review item per reference subject.
    const refs = [...gals.values()].filter((g) => g.kind === 'reference');
    const purpose = h('input', { id: 'person-purpose', size: 40, placeholder: 'purpose (required, audited)' });
    const searchError = h('p', { class: 'refusal', id: 'person-search-error' });
    const searchPanel = me.role === 'analyst' ? h('section', { class: 'panel', id: 'person-search' }, h('h2', { text: 'Search this person in reference galleries' }),
      h('p', {}, refs.map((g) => h('label', { class: 'inline' }, h('input', { type: 'checkbox', class: 'person-gallery', value: g.id, checked: true }), g.name))),
      h('p', {}, purpose, ' ', h('button', { type: 'button', class: 'primary', id: 'person-search-run', onclick: async () => {
        searchError.textContent = '';
        const chosen = [...document.querySelectorAll('.person-gallery:checked')].map((x) => Number(x.value));
        try {
          const r = await api(`/v1/persons/${p.id}/search`, { method: 'POST', json: { galleries: chosen, purpose: purpose.value } });
          go('#/search/' + r.search.id);
        } catch (err) { searchError.textContent = err.message; }
      }, text: 'Search' })), searchError) : null;
    const actions = reviewer ? h('section', { class: 'panel', id: 'person-actions' }, h('h2', { text: 'Your judgement' }),
      h('label', {}, 'Note', note),
      h('p', {}, p.confirmed_by ? null : h('button', { type: 'button', class: 'primary', id: 'person-confirm', onclick: () => act('confirm', {}, 'Confirmed: the person keeps these faces.'), text: 'Confirm: one person' }), ' ',
        h('label', { class: 'inline' }, 'Merge with person ', mergeWith), ' ',
        h('button', { type: 'button', id: 'person-merge', onclick: () => act('merge', { person_id: Number(mergeWith.value) }, 'Merged.'), text: 'Merge' }), ' ',
        splitButton),
      h('p', { class: 'help' }, h('kbd', { text: 'j' }), '/', h('kbd', { text: 'k' }), ' move between faces, ', h('kbd', { text: 'x' }), ' pick, ',
        h('kbd', { text: 's' }), ' split the picked, ', h('kbd', { text: 'r' }), ' not this person, ', h('kbd', { text: 'c' }), ' confirm, ',
        h('kbd', { text: 'n' }), ' note, ', h('kbd', { text: 'm' }), ' merge with…'),
      h('p', { class: 'help', text: 'A merge, a split and "Not this person" are kept as judgements between faces: clustering the collection again never undoes them. One that contradicts an earlier judgement is refused until you say it replaces it.' }),
      error) : null;
    const contacts = h('table', { id: 'person-contacts' },
      h('thead', {}, h('tr', {}, ['Detail', 'Value', 'Photos', 'First seen', 'Last seen'].map((t) => h('th', { text: t })))),
      h('tbody', {}, p.contacts.map((c) => h('tr', {}, h('td', { text: human(c.kind) }),
        h('td', {}, ['phone', 'username', 'url', 'ad_id'].includes(c.kind) ? h('a', { href: `#/lookup?kind=${c.kind}&value=${encodeURIComponent(c.value)}`, text: c.value }) : c.value),
        h('td', { text: c.photos }), h('td', { text: fmtSourceTime(c.first_seen) }), h('td', { text: fmtSourceTime(c.last_seen) })))));
    fill(main, h('h1', { text: `Suggested person ${p.id}` }),
      h('p', { class: 'muted', text: `${p.size} photos in ${(gals.get(p.gallery_id) || {}).name || 'gallery ' + p.gallery_id} · cohesion ${fmtSim(p.cohesion)} · seen ${fmtSourceTime(p.first_seen)} – ${fmtSourceTime(p.last_seen)}` }),
      p.apparent_age ? h('div', { class: 'panel', id: 'person-age' },
        h('p', {}, p.apparent_age.possible_minor ? h('strong', { text: 'Its faces look under 18: ' }) : 'Apparent age: ',
          `median ${ageText(p.apparent_age)} over ${p.aged_faces} of ${p.size} faces`, ' ', minorBadge(p.apparent_age)),
        h('p', { class: 'help', text: p.age_meaning })) : null,
      h('p', { class: 'help', id: 'person-state', text: p.confirmed_by ? `Confirmed by ${p.confirmed_by}, ${fmtTime(p.confirmed_at)}: it keeps these faces when the collection is clustered again.` : 'A proposal, not an identification: the faces were grouped because they look alike. Confirm with the photos and the ads before relying on it.' }),
      h('p', {}, reportButtons('persons', p.id)),
      actions, searchPanel,
      h('section', { class: 'panel' }, h('h2', { text: 'Faces' }), faces),
      h('section', { class: 'panel' }, h('h2', { text: 'What the ads share' }), contacts),
      h('section', { class: 'panel', id: 'person-links' }, h('h2', { text: 'Linked persons' }),
        (p.links || []).length ? h('ul', {}, p.links.map((l) => h('li', {}, h('a', { href: '#/person/' + l.id, text: `Person ${l.id}` }),
          ` (${(gals.get(l.gallery_id) || {}).name || 'gallery ' + l.gallery_id}): `,
          [...(l.contacts || []).map((c) => `same ${human(c.kind)} ${c.value}`),
            ...((l.reposts || []).length ? [`${l.reposts.length} reposted photo${l.reposts.length === 1 ? '' : 's'}`] : [])].join('; '))))
          : h('p', { class: 'muted', text: 'No other person shares a contact detail or a photo with this one.' })),
      h('p', {}, h('a', { class: 'button', href: `#/gallery/${p.gallery_id}?tab=persons`, text: '↑ Persons' })));

    if (!main.isConnected) return;
    let cursor = -1;
    const point = (i) => {
      if (!faceCards.length) return;
      cursor = Math.max(0, Math.min(faceCards.length - 1, i));
      faceCards.forEach((c, j) => c.classList.toggle('selected', j === cursor));
      faceCards[cursor].scrollIntoView({ block: 'nearest' });
    };
    pageKeys = (e, typing) => {
      if (typing) return;
      const here = cursor >= 0 ? p.faces[cursor] : null;
      switch (e.key) {
        case 'j': case 'ArrowRight': case 'ArrowDown': point(cursor + 1); break;
        case 'k': case 'ArrowLeft': case 'ArrowUp': point(cursor - 1); break;
        case 'x': case ' ': if (reviewer && cursor >= 0) faceCards[cursor].pick(); break;
        case 's': if (reviewer && picked.size) split(); break;
        case 'r': if (reviewer && here) act('remove-face', { face_id: here.face_id }, 'The face is out of this person.'); break;
        case 'c': if (reviewer && !p.confirmed_by) act('confirm', {}, 'Confirmed: the person keeps these faces.'); break;
        case 'n': if (reviewer) note.focus(); break;
        case 'm': if (reviewer) mergeWith.focus(); break;
        case 'u': go(`#/gallery/${p.gallery_id}?tab=persons`); break;
        default: return;
      }
      e.preventDefault();
    };
  }

  // policyPanel shows a gallery's operating threshold and what it means at its size; an admin
  // sets the target FPIR it follows from and whether the gallery holds children.
  function policyPanel(g, isAdmin) {
    const op = g.operating_point || {};
    const meaning = h('p', { id: 'policy-meaning', text: op.meaning || '' });
    const error = h('p', { class: 'refusal', id: 'policy-error' });
    const fpir = h('input', { type: 'number', id: 'target-fpir', min: 0.0001, max: 50, step: 'any', value: +(g.target_fpir * 100).toPrecision(3), required: true });
    const minors = h('input', { type: 'checkbox', id: 'minors', checked: g.minors });
    const form = isAdmin ? h('form', { class: 'filters', id: 'policy-form', onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      try {
        const r = await api(`/v1/galleries/${g.id}`, { method: 'PATCH', json: { target_fpir: Number(fpir.value) / 100, minors: minors.checked } });
        meaning.textContent = r.operating_point.meaning;
        notify('Saved.');
      } catch (err) { error.textContent = err.message; }
    } },
    h('label', {}, 'Searches of a stranger that may bring a review item (%)', fpir),
    h('label', { class: 'inline' }, minors, 'A gallery of children (judged under the children\'s line)'),
    h('p', {}, h('button', { class: 'primary', type: 'submit', id: 'policy-save', text: 'Save' }))) : null;
    return h('section', { class: 'panel', id: 'policy' }, h('h2', { text: 'Review threshold' }), meaning,
      h('p', { class: 'help', text: 'Every search shows the analyst its top candidates; only those at or above this threshold become review items. The threshold follows from the target below and the gallery\'s size, from impostor rates measured on LFW and CFP (and on children\'s faces for a gallery of children), so it rises as the gallery grows.' }),
      form, error);
  }

  async function pageJobs(main, _arg, params) {
    const gals = await galleryNames();
    const job = params.get('job');
    const state = params.has('state') ? params.get('state') : 'failed';
    let items = job ? await jobItems(Number(job), state) : null;
    // The job's files are listed again whenever its progress moves, until it finishes.
    let seen = '';
    const onDraw = async (jobs) => {
      const j = jobs.find((x) => String(x.id) === job);
      if (!j || !items) return;
      const now = `${j.state} ${j.processed}`;
      if (seen && now !== seen) {
        const fresh = await jobItems(j.id, state);
        items.replaceWith(fresh);
        items = fresh;
      }
      seen = now;
    };
    fill(main, h('h1', { text: 'Jobs' }), me.role === 'admin' && !job ? newJobForm([...gals.values()]) : null, items,
      await jobsTable('/v1/jobs?limit=100', gals, onDraw));
  }

  // jobActions are an admin's controls on a job: cancel one that is queued or running (what
  // it stored stays), resume one cancelled or failed.
  function jobActions(j, redraw) {
    if (me.role !== 'admin') return null;
    const err = h('span', { class: 'refusal' });
    const act = (verb, label) => {
      const b = h('button', { type: 'button', class: 'job-' + verb, text: label });
      b.addEventListener('click', () => attempt(b, err, async () => {
        await api(`/v1/jobs/${j.id}/${verb}`, { method: 'POST' });
        notify(`Job ${j.id}: ${verb === 'cancel' ? 'cancelled' : 'queued again'}.`);
        await redraw();
      }));
      return b;
    };
    return [j.state === 'queued' || j.state === 'running' ? act('cancel', 'Cancel') : null,
      j.state === 'cancelled' || j.state === 'failed' ? act('resume', 'Resume') : null, err];
  }

  // jobsTable lists jobs and refreshes itself (often while one is queued or running).
  async function jobsTable(path, gals, onDraw) {
    const holder = h('div', { id: 'jobs' });
    let timer = 0;
    onLeave(() => clearTimeout(timer));
    async function draw() {
      clearTimeout(timer);
      const r = await api(path);
      fill(holder, h('table', {},
        h('thead', {}, h('tr', {}, ['Job', 'Gallery', 'State', 'Progress', 'Stored', 'Duplicates', 'No face', 'Failed', 'Faces', 'Matches', 'Rate', 'ETA', 'By', ''].map((t) => h('th', { text: t })))),
        h('tbody', {}, r.items.length ? r.items.map((j) => {
          const pct = j.total > 0 ? Math.min(100, 100 * j.processed / j.total) : 0;
          return h('tr', { dataset: { job: j.id } }, h('td', { text: `${j.id} ${j.kind}` }), h('td', { text: (gals.get(j.gallery_id) || {}).name || j.gallery_id }),
            h('td', { class: 'state' }, j.state, j.error ? h('div', { class: 'refusal', text: j.error }) : null),
            h('td', {}, h('span', { class: 'progress' }, h('span', { style: { width: pct + '%' } })), ` ${j.processed}/${j.total < 0 ? '?' : j.total}`),
            h('td', { text: j.stored }), h('td', { text: j.duplicates }), h('td', { text: j.no_face }), h('td', {}, j.failed ? h('a', { href: `#/jobs?job=${j.id}&state=failed`, title: 'Failed files and why', text: j.failed }) : '0'), h('td', { text: j.faces }),
            h('td', {}, j.matches ? h('a', { href: `#/queue?job=${j.id}&status=`, text: j.matches }) : '0'),
            h('td', { text: j.rate ? j.rate.toFixed(1) + '/s' : '' }), h('td', { text: j.eta_seconds ? Math.round(j.eta_seconds) + ' s' : '' }),
            h('td', { text: j.created_by }),
            h('td', { class: 'actions' }, h('a', { href: `#/jobs?job=${j.id}&state=`, class: 'items-link', text: 'Files' }), jobActions(j, draw)));
        }) : h('tr', {}, h('td', { colspan: 14, class: 'muted', text: 'No job.' })))));
      // Every 2 s while a job is queued or running, every 10 s otherwise, so that a job created
      // elsewhere (the API, the command line) shows up without a reload.
      if (onDraw) await onDraw(r.items);
      const active = r.items.some((j) => j.state === 'queued' || j.state === 'running');
      timer = setTimeout(() => draw().catch((err) => { if (err.status !== 401) notify(err.message, true); }), active ? 2000 : 10000);
    }
    await draw();
    return holder;
  }

  // ---- admin console: forms and confirmations -------------------------------------------
  // Every form shows the API's refusal under itself (not only in a passing notice), until the
  // next try; a destructive action asks first, in place.

  const refusal = (id) => h('p', { class: 'refusal', id, role: 'alert' });
  const labelled = (label, control) => h('label', {}, label, control);

  // attempt runs act with btn disabled and shows its error in err (a 401 signs out instead).
  async function attempt(btn, err, act) {
    err.textContent = '';
    btn.disabled = true;
    try {
      await act();
    } catch (e) {
      if (e.status !== 401) err.textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  }

  // confirmAction is a button that asks before it acts: the first click says what will happen
  // and offers the action and a way back (no window.confirm: it blocks the page, and its text
  // cannot say which record it is about as clearly).
  function confirmAction({ label, question, yes, act, id, cls }) {
    const holder = h('span', { class: 'confirm' });
    const err = h('span', { class: 'refusal' });
    const doit = h('button', { type: 'button', class: 'danger confirm-yes', text: yes, onclick: () => attempt(doit, err, act) });
    const keep = h('button', { type: 'button', class: 'confirm-no', text: 'Keep' });
    const start = h('button', { type: 'button', class: cls || '', id, text: label });
    start.addEventListener('click', () => { holder.classList.add('open'); fill(holder, h('span', { class: 'question', text: question }), doit, keep, err); doit.focus(); });
    keep.addEventListener('click', () => { holder.classList.remove('open'); err.textContent = ''; fill(holder, start); });
    holder.append(start);
    return holder;
  }

  // galleryChoices is a set of gallery checkboxes named name (values: gallery IDs).
  function galleryChoices(name, gals, checked = [], filter = () => true) {
    const list = gals.filter(filter);
    if (!list.length) return h('p', { class: 'muted', text: 'No gallery yet.' });
    return h('div', { class: 'choices-list' }, list.map((g) => h('label', { class: 'inline' },
      h('input', { type: 'checkbox', name, value: g.id, checked: checked.includes(g.id) }), `${g.name} (${g.kind})`)));
  }
  const checkedIDs = (root, name) => [...root.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => Number(i.value));

  // dataImage shows a data: URI (a 409's face thumbnails) as a blob: URL: the page's CSP allows
  // blob: images only.
  function dataImage(uri) {
    const comma = uri.indexOf(',');
    const type = (/^data:([^;,]+)/.exec(uri) || [])[1] || 'image/jpeg';
    const bytes = Uint8Array.from(atob(uri.slice(comma + 1)), (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([bytes], { type }));
    onLeave(() => URL.revokeObjectURL(url));
    return url;
  }

  // ---- admin console: credentials --------------------------------------------------------

  const ROLES = [['reviewer', 'Reviewer: decides matches'], ['analyst', 'Analyst: subjects, uploads, search'],
    ['auditor', 'Auditor: reads the audit log'], ['admin', 'Admin: credentials, galleries, jobs']];
  const SCOPED = ['analyst', 'reviewer']; // admin and auditor credentials are never scoped

  // secretBox shows a new secret once: it is in this answer only and kept nowhere (not in the
  // tab's storage); leaving the page forgets it.
  function secretBox(holder, tok, verb) {
    const value = h('input', { id: 'secret', class: 'secret', readonly: true, value: tok.secret, size: 60, onfocus: (e) => e.target.select() });
    const copied = h('span', { class: 'muted', id: 'secret-copied' });
    const copy = h('button', { type: 'button', class: 'primary', id: 'secret-copy', text: 'Copy', onclick: async () => {
      value.select();
      try { await navigator.clipboard.writeText(tok.secret); copied.textContent = 'Copied.'; } catch {
        // No clipboard permission (plain HTTP, a locked-down browser): the text is selected.
        copied.textContent = 'Selected: press Ctrl+C to copy.';
      }
    } });
    fill(holder, h('section', { class: 'panel secret-box', id: 'secret-box' },
      h('h2', { text: `Secret of ${tok.name} (${tok.role}), ${verb}` }),
      h('p', { class: 'warning', text: 'Copy it now and hand it to its holder over a safe channel. It is shown this once: the service keeps only its hash, and leaving this page forgets it.' }),
      h('div', { class: 'secret-line' }, value, copy, copied),
      h('p', {}, h('button', { type: 'button', id: 'secret-done', text: 'I have copied it', onclick: () => fill(holder) }))));
    value.focus();
  }

  async function pageCredentials(main) {
    const gals = [...(await galleryNames()).values()];
    const secretHolder = h('div');
    const listHolder = h('div', { id: 'credentials-list' });
    const galName = (id) => (gals.find((g) => g.id === id) || {}).name || `gallery ${id}`;

    // The new credential's form.
    const name = h('input', { id: 'cred-name', required: true, maxlength: 100, placeholder: 'e.g. jdoe-laptop', autocomplete: 'off' });
    const user = h('input', { id: 'cred-user', maxlength: 100, placeholder: 'default: the name', autocomplete: 'off' });
    const role = h('select', { id: 'cred-role' }, ROLES.map(([v, t]) => h('option', { value: v, text: t })));
    const expires = h('input', { id: 'cred-expires', type: 'date', min: new Date(Date.now() + 86400e3).toISOString().slice(0, 10) });
    const scope = h('div', { id: 'cred-scope' });
    const drawScope = () => fill(scope, SCOPED.includes(role.value)
      ? [h('h3', { text: 'Galleries (none ticked: all)' }), galleryChoices('cred-gallery', gals)]
      : h('p', { class: 'muted', text: 'Admin and auditor credentials are never limited to galleries.' }));
    role.addEventListener('change', drawScope);
    drawScope();
    const err = refusal('cred-error');
    const submit = h('button', { class: 'primary', type: 'submit', id: 'cred-submit', text: 'Create credential' });
    const form = h('form', { class: 'panel', id: 'cred-form', onsubmit: (e) => {
      e.preventDefault();
      attempt(submit, err, async () => {
        const body = { name: name.value.trim(), role: role.value };
        if (user.value.trim()) body.user = user.value.trim();
        // The end of the chosen day, in the admin's time zone.
        if (expires.value) body.expires_at = new Date(expires.value + 'T23:59:59').toISOString();
        const ids = SCOPED.includes(role.value) ? checkedIDs(form, 'cred-gallery') : [];
        if (ids.length) body.galleries = ids;
        const tok = await api('/v1/tokens', { method: 'POST', json: body });
        form.reset();
        drawScope();
        secretBox(secretHolder, tok, 'created');
        await drawList();
      });
    } },
    h('h2', { text: 'New credential' }),
    h('div', { class: 'filters' }, labelled('Name (an actor in the audit log)', name), labelled('Person', user), labelled('Role', role),
      labelled('Expires (default: the service\u2019s lifetime)', expires)),
    scope, err, h('p', {}, submit));

    async function drawList() {
      const ts = (await api('/v1/tokens')).tokens;
      const now = Date.now();
      const state = (t) => (t.revoked_at ? 'revoked' : t.expires_at && new Date(t.expires_at).getTime() <= now ? 'expired' : 'active');
      const rows = ts.map((t) => {
        const st = state(t);
        const actions = h('td', { class: 'actions' });
        if (st !== 'revoked') {
          fill(actions,
            confirmAction({ label: 'Rotate', cls: 'rotate', question: `New secret for ${t.name}? The old one stops working at once.`, yes: 'Rotate',
              act: async () => { const tok = await api(`/v1/tokens/${t.id}/rotate`, { method: 'POST' }); secretBox(secretHolder, tok, 'rotated'); await drawList(); } }),
            SCOPED.includes(t.role) ? h('button', { type: 'button', class: 'scope', text: 'Galleries', onclick: () => editScope(t, actions) }) : null,
            confirmAction({ label: 'Revoke', cls: 'revoke', question: `Revoke ${t.name}? It stops working at once and cannot be restored.`, yes: 'Revoke',
              act: async () => { await api(`/v1/tokens/${t.id}`, { method: 'DELETE' }); notify(`Revoked ${t.name}.`); await drawList(); } }));
        }
        return h('tr', { dataset: { credential: t.name }, class: st },
          h('td', {}, h('strong', { text: t.name })), h('td', { text: t.user }), h('td', { text: t.role }),
          h('td', { title: fmtTime(t.created_at), text: `${new Date(t.created_at).toLocaleDateString()} by ${t.created_by}` }),
          h('td', { title: fmtTime(t.expires_at), text: t.expires_at ? new Date(t.expires_at).toLocaleDateString() : 'never' }),
          h('td', { title: fmtTime(t.last_used_at), text: t.last_used_at ? age(t.last_used_at) : 'never' }),
          h('td', { class: 'galleries', text: t.galleries ? t.galleries.map(galName).join(', ') : SCOPED.includes(t.role) ? 'all galleries' : '—' }),
          h('td', {}, h('span', { class: 'status cred-' + st, text: st }), t.revoked_at ? h('div', { class: 'muted', text: fmtTime(t.revoked_at) }) : null),
          actions);
      });
      fill(listHolder, h('table', { id: 'credentials' },
        h('thead', {}, h('tr', {}, ['Name', 'Person', 'Role', 'Created', 'Expires', 'Last used', 'Galleries', 'State', ''].map((x) => h('th', { text: x })))),
        h('tbody', {}, rows)));
    }

    // editScope replaces a row's actions with the credential's galleries to tick.
    function editScope(t, cell) {
      const box = h('div', { class: 'scope-edit' }, galleryChoices('scope-gallery', gals, t.galleries || []));
      const err = h('span', { class: 'refusal' });
      const save = h('button', { type: 'button', class: 'primary', text: 'Save', onclick: () => attempt(save, err, async () => {
        const ids = checkedIDs(box, 'scope-gallery');
        await api(`/v1/tokens/${t.id}/galleries`, { method: 'PUT', json: { galleries: ids.length ? ids : null } });
        notify(`${t.name} may now read ${ids.length ? ids.map(galName).join(', ') : 'every gallery'}.`);
        await drawList();
      }) });
      fill(cell, box, h('p', { class: 'muted', text: 'None ticked: all galleries.' }), save, ' ', h('button', { type: 'button', text: 'Cancel', onclick: () => drawList() }), err);
    }

    await drawList();
    fill(main, h('h1', { text: 'Credentials' }), secretHolder, form, listHolder);
  }

  // ---- admin console: galleries -----------------------------------------------------------

  function newGalleryForm(gals) {
    const name = h('input', { id: 'gallery-name', required: true, maxlength: 100, autocomplete: 'off' });
    const kind = h('select', { id: 'gallery-kind' }, h('option', { value: 'reference', text: 'Reference: known people (subjects)' }),
      h('option', { value: 'collection', text: 'Collection: ad photos' }));
    // The API lists no models: offer the ones galleries already use; empty is the default.
    const models = [...new Set(gals.map((g) => modelName(g.model)).filter(Boolean))];
    const mdl = h('input', { id: 'gallery-model', list: 'gallery-models', placeholder: 'default', size: 14 });
    const err = refusal('gallery-error');
    const submit = h('button', { class: 'primary', type: 'submit', id: 'gallery-submit', text: 'Create gallery' });
    return h('form', { class: 'panel', id: 'gallery-form', onsubmit: (e) => {
      e.preventDefault();
      attempt(submit, err, async () => {
        const g = await api('/v1/galleries', { method: 'POST', json: { name: name.value.trim(), kind: kind.value, model: mdl.value.trim() } });
        notify(`Created gallery ${g.name}.`);
        go('#/gallery/' + g.id);
      });
    } }, h('h2', { text: 'New gallery' }),
    h('div', { class: 'filters' }, labelled('Name', name), labelled('Kind', kind), labelled('Model', mdl),
      h('datalist', { id: 'gallery-models' }, models.map((m) => h('option', { value: m }))), submit), err);
  }

  // deleteGalleryPanel asks for the gallery's name, typed, before deleting it and says what goes.
  function deleteGalleryPanel(g) {
    const typed = h('input', { id: 'delete-confirm', autocomplete: 'off', size: 30, placeholder: g.name });
    const err = refusal('delete-error');
    const btn = h('button', { type: 'button', class: 'danger', id: 'delete-gallery', disabled: true, text: `Delete ${g.name}` });
    typed.addEventListener('input', () => { btn.disabled = typed.value !== g.name; });
    btn.addEventListener('click', () => attempt(btn, err, async () => {
      await api('/v1/galleries/' + g.id, { method: 'DELETE' });
      notify(`Deleted gallery ${g.name}.`);
      go('#/galleries');
    }));
    const n = (x, one, many) => `${x.toLocaleString()} ${x === 1 ? one : many}`;
    return h('section', { class: 'panel danger-zone', id: 'delete-panel' }, h('h2', { text: 'Delete this gallery' }),
      h('p', {}, 'This deletes, for good: ', h('strong', { text: [g.kind === 'reference' ? n(g.subjects, 'subject', 'subjects') : null,
        n(g.images, 'photo', 'photos'), n(g.faces, 'face', 'faces') + ' with their vectors and thumbnails'].filter(Boolean).join(', ') }),
      ', every match and decision about them, its suggested persons, and the gallery\u2019s jobs (a running one is cancelled) with their uploaded archives and sidecars. The audit log keeps the IDs only.'),
      h('div', { class: 'filters' }, labelled(`Type the gallery\u2019s name (${g.name}) to confirm`, typed), btn), err);
  }

  // ---- admin console: subjects and their photos (reference galleries) ---------------------

  // newSubjectForm is folded away once the gallery has subjects: the list matters more then.
  function newSubjectForm(galleryID, open) {
    const name = h('input', { id: 'subject-name', required: true, maxlength: 100, autocomplete: 'off' });
    const extRef = h('input', { id: 'subject-ref', maxlength: 200, placeholder: 'e.g. notice number', autocomplete: 'off' });
    const notes = h('textarea', { id: 'subject-notes', rows: 1, cols: 40, maxlength: 4000 });
    const err = refusal('subject-error');
    const submit = h('button', { class: 'primary', type: 'submit', id: 'subject-submit', text: 'Add subject' });
    return h('details', { class: 'panel', id: 'subject-new', open }, h('summary', { text: 'Add a subject' }), h('form', { id: 'subject-form', onsubmit: (e) => {
      e.preventDefault();
      attempt(submit, err, async () => {
        const s = await api(`/v1/galleries/${galleryID}/subjects`, { method: 'POST', json: { name: name.value.trim(), external_ref: extRef.value.trim(), notes: notes.value.trim() } });
        notify(`Added ${s.name}: now enrol a photo of them.`);
        go(`#/gallery/${galleryID}?tab=subjects&subject=${s.id}`);
      });
    } }, h('div', { class: 'filters' }, labelled('Name', name), labelled('External reference', extRef), labelled('Notes', notes), submit), err));
  }

  function editSubjectForm(s) {
    const name = h('input', { id: 'edit-name', required: true, maxlength: 100, value: s.name, autocomplete: 'off' });
    const extRef = h('input', { id: 'edit-ref', maxlength: 200, value: s.external_ref || '', autocomplete: 'off' });
    const notes = h('textarea', { id: 'edit-notes', rows: 1, cols: 40, maxlength: 4000 });
    notes.value = s.notes || '';
    const err = refusal('edit-error');
    const submit = h('button', { class: 'primary', type: 'submit', id: 'edit-submit', text: 'Save' });
    return h('form', { id: 'edit-form', onsubmit: (e) => {
      e.preventDefault();
      attempt(submit, err, async () => {
        // Only what changed is sent: the audit entry names the fields edited.
        const change = {};
        if (name.value.trim() !== s.name) change.name = name.value.trim();
        if (extRef.value.trim() !== (s.external_ref || '')) change.external_ref = extRef.value.trim();
        if (notes.value.trim() !== (s.notes || '')) change.notes = notes.value.trim();
        if (!Object.keys(change).length) { err.textContent = 'Nothing changed.'; return; }
        const sub = await api('/v1/subjects/' + s.id, { method: 'PATCH', json: change });
        notify(`Saved ${sub.name}.`);
        render();
      });
    } }, h('h3', { text: 'Edit' }),
    h('div', { class: 'filters' }, labelled('Name', name), labelled('External reference', extRef), labelled('Notes', notes), submit), err);
  }

  // enrolForm uploads a photo of a subject. A photo showing several people is answered 409
  // with their faces: the picker shows them, and a click sends the photo again with that face.
  function enrolForm(galleryID, s) {
    const file = h('input', { type: 'file', id: 'enrol-file', accept: 'image/*', required: true });
    const err = refusal('enrol-error');
    const picker = h('div', { id: 'face-picker' });
    const submit = h('button', { class: 'primary', type: 'submit', id: 'enrol-submit', text: 'Enrol photo' });
    async function send(face) {
      const fd = new FormData();
      fd.set('image', file.files[0]);
      fd.set('subject_id', s.id);
      if (face !== undefined) fd.set('face', face);
      try {
        const r = await api(`/v1/galleries/${galleryID}/images`, { method: 'POST', form: fd });
        notify(r.duplicate ? `This photo is already in the gallery (photo ${r.image.id}).` : `Enrolled photo ${r.image.id} for ${s.name}.`);
        render();
      } catch (e) {
        if (e.status === 409 && e.problem.faces) { pick(e.problem.faces); return; }
        throw e;
      }
    }
    function pick(faces) {
      fill(picker, h('p', { class: 'warning', text: `This photo shows ${faces.length} faces. Click ${s.name}\u2019s face; the others are not stored.` }),
        h('div', { class: 'face-choices' }, faces.map((f) => {
          const b = h('button', { type: 'button', class: 'face-choice', dataset: { face: f.index }, disabled: !!f.rejections,
            title: f.rejections ? 'Refused by the quality gate: ' + f.rejections.join('; ') : `Face ${f.index + 1}, detector score ${f.score.toFixed(2)}` },
          h('img', { class: 'thumb mid', alt: `face ${f.index + 1}`, src: dataImage(f.thumbnail) }),
          h('span', { text: f.rejections ? 'refused' : `Face ${f.index + 1}` }));
          b.addEventListener('click', () => attempt(b, err, () => send(f.index)));
          return b;
        })));
    }
    return h('form', { id: 'enrol-form', onsubmit: (e) => {
      e.preventDefault();
      fill(picker);
      attempt(submit, err, () => send());
    } }, h('h3', { text: 'Enrol a photo' }),
    h('div', { class: 'filters' }, labelled('Photo of ' + s.name, file), submit), err, picker);
  }

  // ---- admin console: ingest jobs ---------------------------------------------------------

  function newJobForm(gals) {
    const collections = gals.filter((g) => g.kind === 'collection');
    const gallery = h('select', { id: 'job-gallery', required: true }, collections.map((g) => h('option', { value: g.id, text: g.name })));
    const from = h('select', { id: 'job-from' }, h('option', { value: 'archive', text: 'an uploaded archive (zip, tar, tar.gz)' }),
      h('option', { value: 'path', text: 'an S3 prefix or a path on the server' }));
    const archive = h('input', { type: 'file', id: 'job-archive', accept: '.zip,.tar,.tgz,.gz,application/zip,application/x-tar,application/gzip' });
    const source = h('input', { id: 'job-source', size: 36, placeholder: 's3://bucket/prefix/', autocomplete: 'off' });
    const archiveLabel = labelled('Archive', archive);
    const sourceLabel = labelled('S3 prefix, or a path under the service\u2019s --ingest-root', source);
    const showSource = () => { archiveLabel.hidden = from.value !== 'archive'; sourceLabel.hidden = from.value === 'archive'; };
    from.addEventListener('change', showSource);
    showSource();
    const meta = h('input', { type: 'file', id: 'job-meta', accept: '.csv,.json' });
    const purpose = h('input', { id: 'job-purpose', required: true, size: 40, maxlength: 500, autocomplete: 'off' });
    const err = refusal('job-error');
    const submit = h('button', { class: 'primary', type: 'submit', id: 'job-submit', text: 'Start job' });
    if (!collections.length) {
      return h('section', { class: 'panel', id: 'job-form' }, h('h2', { text: 'New ingest job' }),
        h('p', { class: 'muted' }, 'Jobs fill collection galleries: ', h('a', { href: '#/galleries', text: 'create one first' }), '.'));
    }
    const form = h('form', { class: 'panel', id: 'job-form', onsubmit: (e) => {
      e.preventDefault();
      attempt(submit, err, async () => {
        const fd = new FormData();
        fd.set('kind', 'ingest');
        fd.set('gallery_id', gallery.value);
        fd.set('purpose', purpose.value.trim());
        if (from.value === 'archive') {
          if (!archive.files[0]) throw new Error('Choose an archive of photos.');
          fd.set('archive', archive.files[0]);
        } else {
          fd.set('source', source.value.trim());
        }
        if (meta.files[0]) fd.set('meta', meta.files[0]);
        const cross = checkedIDs(form, 'cross-match');
        if (cross.length) fd.set('cross_match', cross.join(','));
        submit.textContent = from.value === 'archive' ? 'Uploading…' : 'Starting…';
        try {
          const j = await api('/v1/jobs', { method: 'POST', form: fd });
          notify(`Job ${j.id} queued.`);
          go(`#/jobs?job=${j.id}&state=`);
        } finally { submit.textContent = 'Start job'; }
      });
    } }, h('h2', { text: 'New ingest job' }),
    h('div', { class: 'filters' }, labelled('Into collection', gallery), labelled('Photos from', from), archiveLabel, sourceLabel,
      labelled('Sidecar (.csv or .json, optional)', meta), labelled('Purpose (required, audited)', purpose)),
    h('h3', { text: 'Cross-match every new face against (optional)' }), galleryChoices('cross-match', gals, [], (g) => g.kind === 'reference'),
    err, h('p', {}, submit));
    return form;
  }

  const ITEM_STATES = [['failed', 'Failed'], ['', 'All'], ['stored', 'Stored'], ['duplicate', 'Duplicate'], ['no_face', 'No face']];

  // jobItems lists a job's finished files, 100 at a time, failed ones with their reasons.
  async function jobItems(id, state) {
    const holder = h('section', { class: 'panel', id: 'job-items' });
    let cursor = '';
    const body = h('tbody');
    const more = h('button', { type: 'button', id: 'items-more', text: 'More', hidden: true, onclick: () => load().catch((e) => notify(e.message, true)) });
    async function load() {
      const q = new URLSearchParams({ limit: 100 });
      if (state) q.set('state', state);
      if (cursor) q.set('cursor', cursor);
      const r = await api(`/v1/jobs/${id}/items?` + q.toString());
      body.append(...r.items.map((it) => h('tr', { dataset: { state: it.state } }, h('td', { class: 'name', text: it.name }), h('td', {}, status(it.state)),
        h('td', { text: it.faces }), h('td', { class: it.state === 'failed' ? 'refusal' : 'muted', text: it.reason || '' }),
        h('td', { text: it.image_id ? `photo ${it.image_id}` : '' }))));
      if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 5, class: 'muted', text: state ? `No ${human(state)} file.` : 'No file finished yet.' })));
      cursor = r.next_cursor;
      more.hidden = !cursor;
    }
    await load();
    fill(holder, h('div', { class: 'pager' }, h('h2', { text: `Job ${id}: files` }),
      h('label', {}, 'Show', h('select', { id: 'items-state', onchange: (e) => go(`#/jobs?job=${id}&state=${e.target.value}`) },
        ITEM_STATES.map(([v, t]) => h('option', { value: v, selected: v === state, text: t })))),
      h('a', { class: 'button', href: '#/jobs', text: 'Close' })),
    h('table', {}, h('thead', {}, h('tr', {}, ['File', 'Outcome', 'Faces', 'Reason', 'Stored as'].map((t) => h('th', { text: t })))), body), more);
    return holder;
  }

  // ---- audit (auditors) ----------------------------------------------------------------

  // download fetches path with the credential and saves the answer under the name the server
  // gives it (a plain link would carry no credential).
  async function download(path) {
    const r = await fetch(path, { headers: { Authorization: 'Bearer ' + me.token }, cache: 'no-store' });
    if (!r.ok) {
      let msg = r.status + ' ' + r.statusText;
      try { const p = await r.json(); msg = p.detail || msg; } catch { /* not a problem document */ }
      throw new APIError(r.status, msg);
    }
    const name = (/filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '') || [])[1] || 'export';
    const url = URL.createObjectURL(await r.blob());
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60e3);
  }

  // reportButtons download a person's or a match's case report (kind: persons or matches): one
  // HTML file that needs nothing else, or its JSON bundle. Making one is audited.
  function reportButtons(kind, id) {
    const get = (format) => () => download(`/v1/${kind}/${id}/report?format=${format}`).then(
      () => notify(`Case report downloaded (${format.toUpperCase()}).`), (err) => notify(err.message, true));
    return h('span', { class: 'report-buttons' },
      h('button', { type: 'button', id: 'case-report', title: 'One HTML file to print or hand over: photos, ads, evidence, decisions, audit trail (audited)', onclick: get('html'), text: 'Case report' }), ' ',
      h('button', { type: 'button', id: 'case-report-json', title: 'The same report as a JSON bundle (audited)', onclick: get('json'), text: 'JSON' }));
  }

  // targetLink links an audit row's target to the page that shows it, where there is one.
  function targetLink(target) {
    const m = /^(match|gallery):(\d+)$/.exec(target || '');
    if (!m) return target || '';
    return h('a', { href: `#/${m[1]}/${m[2]}`, text: target });
  }

  async function pageAudit(main, _arg, params) {
    const f = { actor: params.get('actor') || '', action: params.get('action') || '', since: params.get('since') || new Date(Date.now() - 86400e3).toISOString().slice(0, 10) };
    const cursor = params.get('cursor') || '';
    const q = new URLSearchParams({ ...f, limit: 100 });
    if (cursor) q.set('cursor', cursor);
    for (const [k, v] of [...q.entries()]) if (!v) q.delete(k);
    const r = await api('/v1/audit?' + q.toString());
    const set = (k, v) => { const p = new URLSearchParams({ ...f, [k]: v }); go('#/audit?' + p.toString()); };
    const input = (k, label, attrs = {}) => h('label', {}, label, h('input', { name: k, value: f[k], ...attrs, onchange: (e) => set(k, e.target.value.trim()) }));
    fill(main, h('h1', { text: 'Audit log' }),
      h('form', { class: 'panel filters', onsubmit: (e) => e.preventDefault() }, input('since', 'Since', { type: 'date' }), input('actor', 'Actor'), input('action', 'Action', { placeholder: 'e.g. match.decide' }),
        ['csv', 'json'].map((format) => h('button', { type: 'button', id: 'export-' + format, title: 'Every entry of these filters, oldest first (the export is audited)',
          onclick: () => download('/v1/audit/export?' + new URLSearchParams(Object.fromEntries(Object.entries({ ...f, format }).filter(([, v]) => v)))).then(
            () => notify('Exported as ' + format.toUpperCase() + '.'), (err) => notify(err.message, true)),
          text: 'Export ' + format.toUpperCase() }))),
      h('table', { id: 'audit' }, h('thead', {}, h('tr', {}, ['When', 'Actor', 'Action', 'Target', 'Galleries', 'Input', 'Result'].map((t) => h('th', { text: t })))),
        h('tbody', {}, r.items.map((e) => h('tr', { dataset: { action: e.action } }, h('td', { text: fmtTime(e.at) }), h('td', { text: e.actor }), h('td', { text: e.action }),
          h('td', {}, targetLink(e.target)), h('td', { text: (e.galleries || []).join(', ') }), h('td', { class: 'muted', text: e.input || '' }), h('td', { text: e.result || '' }))))),
      h('div', { class: 'pager' }, r.next_cursor ? h('a', { class: 'button', href: '#/audit?' + new URLSearchParams({ ...f, cursor: r.next_cursor }).toString(), text: 'Next page →' }) : null));
  }

  // ---- start ---------------------------------------------------------------------------

  $('#signout').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', render);
  render();
})();
