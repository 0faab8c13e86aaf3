// The Chimera console (README "Console"): one page per node, served by the
// node itself at /ui/. Live through GET /events/stream (Server-Sent Events):
// an event says what changed, and the views it touches are fetched again at
// once; a slow safety refresh catches anything an event does not announce.
// Everything is built with DOM calls (never innerHTML): event messages and
// ledger data are untrusted text.
'use strict';

const SAFETY_REFRESH_MS = 10000;
const FETCH_TIMEOUT_MS = 3000;
const PROBE_EVERY_MS = 1000;
const DOWN_AFTER_FAILURES = 2; // consecutive failed probes: the node is gone
const SWITCH_AFTER_MS = 3000; // then, this long to read the banner before moving on
const FEED_MAX = 500;
const LEDGER_ROWS = 15;
const TOKEN_KEY = 'chimera.adminToken';

const $ = (id) => document.getElementById(id);

// ---- small DOM helpers ------------------------------------------------------

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function badge(text, cls) {
  return el('span', { class: `badge ${cls || text}`, text });
}

function kv(label, value) {
  return el('span', {}, `${label} `, el('b', {}, value));
}

function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
}

function clock(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function when(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? clock(ms).slice(0, 8) : d.toISOString().replace('T', ' ').slice(0, 19);
}

// A duration for people as chimeractl and the node write it, the way a
// drill file reads it (manifest_format_duration, pipeline/core): "412ms",
// "2s685ms", "10m", "1h5m5s", "0ms"; whole milliseconds, none below 0, at
// most 2^32 - 1 ms as there.
const DURATION_UNITS = [[3600000, 'h'], [60000, 'm'], [1000, 's'], [1, 'ms']];
function duration(ms) {
  if (typeof ms !== 'number' || Number.isNaN(ms)) return '—';
  let left = Math.min(Math.max(0, Math.round(ms)), 4294967295);
  if (left === 0) return '0ms';
  let text = '';
  for (const [size, unit] of DURATION_UNITS) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n) text += `${n}${unit}`;
  }
  return text;
}

// A member's HTTP address as a URL to link to: http(s) only (an address
// is what a member advertises; nothing else becomes a link).
function httpUrl(addr) {
  if (!addr) return null;
  if (!addr.includes('://')) return `http://${addr}`;
  return /^https?:\/\/[^/]/i.test(addr) ? addr.replace(/\/+$/, '') : null;
}

// The level README "Events" gives a kind: warn for trouble.
const WARN_KIND = /_failed|\.failed|unhealthy|connection_|dead|suspect|step_down|read_only\.enter|unverified|equivocation|dropped|key_changed|auth_failure|clock_skew|malformed|refused|crash_loop/;

// ---- what the page knows ------------------------------------------------------

const page = {
  state: null, // GET /federation/state
  stateAt: 0, // when it was fetched
  selfOrigin: location.origin,
  events: [], // newest last
  seen: new Set(), // event seqs shown
  lastSeq: null,
  failures: 0, // consecutive failed requests to the serving node
  down: false,
  switchTimer: null,
  stayHere: false,
  es: null,
  streamOpened: false,
  polling: null,
  ledgerIndex: null,
};

// ---- talking to the serving node ------------------------------------------

class HttpError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function api(path, opts = {}) {
  let r;
  try {
    r = await fetch(path, {
      cache: 'no-store',
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeout || FETCH_TIMEOUT_MS),
      ...opts,
    });
  } catch (e) {
    unreachable(e);
    throw e;
  }
  reachable();
  // A follower sends a mutation to the leader (307); a page may not follow
  // it to another origin, and is not told where: the caller explains.
  if (r.type === 'opaqueredirect') throw new HttpError(307, 'redirected', null);
  let body = null;
  try {
    body = await r.json();
  } catch {
    body = null;
  }
  if (!r.ok) {
    const msg = body && body.error ? body.error : `${r.status} ${r.statusText}`;
    throw new HttpError(r.status, msg, body);
  }
  return body;
}

// Reads that a read token may guard (the ledger's entries, one deployment):
// with the admin token when the tab has one.
function readHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { Authorization: `Bearer ${t}` } : {};
}

// ---- views: each fetched when an event touches it ---------------------------

const views = {
  state: { load: loadState },
  ledger: { load: loadLedger },
  deployments: { load: loadDeployments },
  chaos: { load: loadChaos },
  drills: { load: loadDrills },
  recovery: { load: loadRecovery },
};
const pending = new Set();
let flushTimer = null;
const running = new Map(); // view -> promise; a request while running reruns it after

function refresh(...names) {
  for (const n of names) pending.add(n);
  if (!flushTimer) flushTimer = setTimeout(flush, 50);
}

function flush() {
  flushTimer = null;
  const names = [...pending];
  pending.clear();
  for (const n of names) {
    if (running.has(n)) {
      running.get(n).finally(() => refresh(n));
      continue;
    }
    const p = views[n]
      .load()
      .catch((e) => {
        if (!(e instanceof HttpError)) return; // unreachable: handled there
        console.warn(`${n}: ${e.message}`);
      })
      .finally(() => running.delete(n));
    running.set(n, p);
  }
}

function refreshAll() {
  refresh(...Object.keys(views));
}

// Which views an event's kind touches (every event refreshes the state:
// members, leader and ledger head are cheap and change with almost anything).
function viewsFor(kind) {
  const v = ['state', 'ledger'];
  if (/^(deploy|chimera|release)\./.test(kind)) v.push('deployments');
  if (/^chaos\./.test(kind)) v.push('chaos');
  if (/^drill\./.test(kind)) v.push('drills');
  if (/^(recovery|deploy)\./.test(kind)) v.push('recovery');
  return v;
}

// ---- the federation's state: header, banners, members ------------------------

async function loadState() {
  const s = await api('/federation/state');
  page.state = s;
  page.stateAt = Date.now();
  renderState(s);
  if (page.ledgerIndex !== s.ledger.index) refresh('ledger');
}

function renderState(s) {
  document.title = `${s.leader ? `leader ${s.leader}` : 'no leader'} · Chimera console (${s.node})`;
  $('self-id').textContent = s.node;
  $('self-addr').textContent = location.host;
  $('version').textContent = `v${s.version}`;
  const lead = $('leader');
  lead.classList.toggle('none', !s.leader);
  $('leader-id').textContent = s.leader || 'none';
  $('term').textContent = `term ${s.term}`;

  const ro = $('banner-readonly');
  ro.hidden = !s.read_only;
  if (s.read_only) {
    const others = s.peers.filter((p) => !p.self && httpUrl(p.http));
    fill($('readonly-text'),
      `${s.node} is in the minority: it knows no quorum-backed leader (quorum ${s.quorum} of ${s.peers.length}), `,
      'so it refuses changes; what it shows may be behind. ',
      others.length ? 'Consoles of the other members: ' : null,
      others.map((p, i) => [i ? ', ' : '', el('a', { href: `${httpUrl(p.http)}/ui/` }, p.node)]));
  }

  renderMembers(s);
}

function renderMembers(s) {
  const alive = s.peers.filter((p) => p.self || p.status === 'alive').length;
  $('members-summary').textContent = `${alive} of ${s.peers.length} alive · quorum ${s.quorum}`;
  fill($('members'), s.peers.map((p) => memberCard(s, p)));
}

function memberCard(s, p) {
  const isLeader = s.leader === p.node;
  const status = p.self ? 'alive' : p.status;
  const silent = p.status === 'alive' ? 0 : Date.now() - page.stateAt;
  const contact = p.self ? 'this node' : p.last_contact_ms === null ? 'never' : `${duration(p.last_contact_ms + silent)} ago`;
  const ledger = p.ledger
    ? `${p.ledger.index} (committed ${p.ledger.committed})`
    : el('span', { class: 'muted', text: 'on the leader only' });
  const rel = p.release;
  let release;
  if (!rel) release = el('span', { class: 'muted', text: 'on the leader only' });
  else if (!rel.running) release = el('span', { class: 'muted', text: 'none' });
  else release = el('span', {}, `${rel.version || rel.running} `, badge(rel.health));
  const detail = rel && rel.detail ? el('dd', { class: 'muted', text: rel.detail }) : null;
  const url = httpUrl(p.http);
  const cls = ['card', isLeader && 'leader-card', status === 'dead' && 'dead', p.self && 'self']
    .filter(Boolean)
    .join(' ');
  return el('article', { class: cls, 'data-node': p.node, 'data-role': isLeader ? 'leader' : p.role, 'data-status': status },
    el('div', { class: 'card-head' },
      el('span', { class: 'name', text: p.node }),
      badge(isLeader ? 'leader' : p.role, isLeader ? 'leader' : 'role'),
      badge(status),
      p.self ? badge('this console', 'self') : null),
    el('dl', {},
      el('dt', { text: 'last contact' }), el('dd', { text: contact }),
      el('dt', { text: 'ledger' }), el('dd', {}, ledger),
      el('dt', { text: 'release' }), el('dd', {}, release),
      detail ? [el('dt', { text: '' }), detail] : null,
      el('dt', { text: 'http' }),
      el('dd', {}, url && !p.self ? el('a', { href: `${url}/ui/` }, p.http) : p.http || '—')));
}

// ---- the event feed -------------------------------------------------------------

function addEvents(list, live) {
  let added = false;
  for (const e of list) {
    if (page.seen.has(e.seq)) continue;
    page.seen.add(e.seq);
    page.events.push(e);
    if (page.lastSeq === null || e.seq > page.lastSeq) page.lastSeq = e.seq;
    added = true;
    if (live) refresh(...viewsFor(e.kind));
  }
  if (!added) return;
  page.events.sort((a, b) => a.seq - b.seq);
  while (page.events.length > FEED_MAX) page.seen.delete(page.events.shift().seq);
  renderKinds();
  renderFeed(live);
}

function renderKinds() {
  const sel = $('event-filter');
  const kinds = [...new Set(page.events.map((e) => e.kind))].sort();
  const prefixes = [...new Set(kinds.map((k) => k.split('.')[0]))].map((p) => `${p}.*`);
  const want = ['', ...prefixes, ...kinds];
  const have = [...sel.options].map((o) => o.value);
  if (want.join('\n') === have.join('\n')) return;
  const chosen = sel.value;
  fill(sel,
    el('option', { value: '', text: 'all kinds' }),
    el('optgroup', { label: 'groups' }, prefixes.map((p) => el('option', { value: p, text: p }))),
    el('optgroup', { label: 'kinds' }, kinds.map((k) => el('option', { value: k, text: k }))));
  sel.value = want.includes(chosen) ? chosen : '';
}

function matchesFilter(e) {
  const f = $('event-filter').value;
  if (f.endsWith('.*') ? !e.kind.startsWith(f.slice(0, -1)) : f && e.kind !== f) return false;
  const q = $('event-search').value.trim().toLowerCase();
  return !q || `${e.kind} ${e.message} ${e.node}`.toLowerCase().includes(q);
}

function renderFeed(live) {
  const shown = page.events.filter(matchesFilter).slice(-200).reverse();
  const newest = page.events.length ? page.events[page.events.length - 1].seq : null;
  fill($('events'), shown.length
    ? shown.map((e) => el('li', {
      class: [WARN_KIND.test(e.kind) ? 'warn' : '', live && e.seq === newest ? 'fresh' : ''].join(' ').trim() || null,
      'data-kind': e.kind,
      'data-seq': String(e.seq),
    },
    el('span', { class: 'time', text: clock(e.time_ms), title: e.time }),
    el('span', { class: 'muted', text: e.node }),
    el('span', { class: 'kind', text: e.kind }),
    el('span', { class: 'message', text: e.message })))
    : el('li', { class: 'empty', text: page.events.length ? 'no event matches the filter' : 'no events yet' }));
}

// The live stream; /events polling only where it is missing (a node older
// than the stream), so that the console still works there.
function openStream() {
  if (page.es) page.es.close();
  const since = page.lastSeq === null ? '' : `?since=${page.lastSeq}`;
  const es = new EventSource(`/events/stream${since}`);
  page.es = es;
  es.onopen = () => {
    page.streamOpened = true;
    stopPolling();
    reachable();
    setConn('live', 'live');
    // Whatever happened while the stream was down.
    refreshAll();
  };
  es.onmessage = (m) => {
    let e;
    try {
      e = JSON.parse(m.data);
    } catch {
      return;
    }
    addEvents([e], true);
  };
  es.onerror = () => {
    if (page.down) return;
    if (es.readyState === EventSource.CLOSED) {
      // Refused outright (no such endpoint): the node answers, but has no stream.
      if (!page.streamOpened) startPolling();
      else setTimeout(() => !page.down && openStream(), PROBE_EVERY_MS);
    }
    setConn('connecting', 'reconnecting');
    probe();
  };
}

function startPolling() {
  if (page.polling) return;
  page.polling = setInterval(async () => {
    const since = page.lastSeq === null ? '' : `&since=${page.lastSeq}`;
    try {
      addEvents(await api(`/events?limit=1000${since}`), true);
      setConn('live', 'live (polling /events)');
    } catch {
      // unreachable() already counts it
    }
  }, 1000);
}

function stopPolling() {
  clearInterval(page.polling);
  page.polling = null;
}

// ---- when the serving node stops answering -----------------------------------

function setConn(cls, text) {
  const c = $('conn');
  c.className = `conn ${cls}`;
  $('conn-text').textContent = text;
}

let probing = false;
async function probe() {
  if (probing) return;
  probing = true;
  try {
    await api('/health/live', { timeout: 1500 });
    if (page.es && page.es.readyState === EventSource.CLOSED && page.streamOpened) openStream();
  } catch {
    // counted by unreachable()
  } finally {
    probing = false;
  }
  if (page.failures > 0 && !page.down) setTimeout(probe, PROBE_EVERY_MS);
}

function unreachable() {
  page.failures++;
  if (page.failures < DOWN_AFTER_FAILURES) {
    setConn('connecting', 'reconnecting');
    setTimeout(probe, PROBE_EVERY_MS);
    return;
  }
  if (!page.down) goneDown();
}

function reachable() {
  page.failures = 0;
  if (!page.down) return;
  page.down = false;
  clearTimeout(page.switchTimer);
  document.body.classList.remove('stale');
  $('banner-lost').hidden = true;
  setConn('connecting', 'reconnecting');
  openStream();
}

// The member to move to: the leader if it is another node, else one heard
// from lately. From the last state this page had.
function nextMember() {
  const s = page.state;
  if (!s) return null;
  const others = s.peers.filter((p) => !p.self && httpUrl(p.http));
  const rank = (p) => (p.node === s.leader ? 0 : { alive: 1, suspect: 2 }[p.status] || 3);
  others.sort((a, b) => rank(a) - rank(b) || a.node.localeCompare(b.node));
  return others.find((p) => p.status !== 'dead') || null;
}

function goneDown() {
  page.down = true;
  if (page.es) page.es.close();
  stopPolling();
  document.body.classList.add('stale');
  $('banner-lost').hidden = false;
  setConn('down', 'not answering');
  const self = page.state ? page.state.node : location.host;
  $('lost-title').textContent = `${self} (${location.host}) is not answering since ${clock(Date.now()).slice(0, 8)}.`;
  const next = nextMember();
  const stay = $('lost-stay');
  if (!next || page.stayHere) {
    stay.hidden = true;
    $('lost-text').textContent = next
      ? 'The last state it gave is shown, greyed. Retrying it.'
      : 'The last state it gave is shown, greyed. No other member is known to be up; retrying this one.';
    retryWhileDown();
    return;
  }
  const url = `${httpUrl(next.http)}/ui/#from=${encodeURIComponent(self)}`;
  fill($('lost-text'), 'The last state it gave is shown, greyed. Switching to ',
    el('a', { href: url, id: 'lost-next' }, `${next.node} (${next.http})`), ' in a moment…');
  stay.hidden = false;
  // A page is bound to its origin (the Content-Security-Policy allows no
  // other, and CORS is off by default): moving on means loading the other
  // member's own console.
  page.switchTimer = setTimeout(() => location.assign(url), SWITCH_AFTER_MS);
  retryWhileDown();
}

function retryWhileDown() {
  if (!page.down) return;
  setTimeout(async () => {
    try {
      await api('/health/live', { timeout: 1500 });
    } catch {
      retryWhileDown();
    }
  }, 2000);
}

// ---- the ledger -------------------------------------------------------------------

async function loadLedger() {
  const head = await api('/ledger/head');
  page.ledgerIndex = head.index;
  const short = (h) => (h ? `${h.slice(0, 12)}…` : '—');
  fill($('ledger-head'),
    kv('index', head.index), kv('committed', head.committed), kv('term', head.term),
    el('span', {}, 'head ', el('code', { text: short(head.hash), title: head.hash })));
  const cp = head.checkpoint;
  const box = $('checkpoint');
  box.classList.toggle('notarized', !!(cp && cp.notarized));
  if (!cp) fill(box, el('span', { class: 'muted', text: 'no checkpoint yet' }));
  else {
    const signers = cp.signatures.map((s) => s.signer);
    fill(box,
      el('b', { text: `checkpoint at ${cp.index}` }), ` (term ${cp.term}) `,
      cp.notarized
        ? badge(`notarized ${signers.length}/${cp.quorum}`, 'ok')
        : badge(`not notarized: ${signers.length} of ${cp.quorum} signatures`, 'warn'),
      ' signed by ', el('b', { text: signers.join(', ') || 'nobody yet' }));
  }
  const from = Math.max(1, head.index - LEDGER_ROWS + 1);
  const tbody = $('ledger-entries').tBodies[0];
  try {
    const page1 = await api(`/ledger?from=${from}&limit=${LEDGER_ROWS}`, { headers: readHeaders() });
    $('ledger-note').textContent = '';
    fill(tbody, page1.entries.slice().reverse().map((e) => {
      const data = e.type === 'note' && typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
      return el('tr', { 'data-index': String(e.index), 'data-type': e.type },
        el('td', { text: e.index }), el('td', { text: e.term }), el('td', {}, badge(e.type, 'type')),
        el('td', { text: e.author || '—' }), el('td', { text: when(e.timestamp_ms) }),
        el('td', { class: 'data', title: data, text: data }));
    }));
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    fill(tbody);
    $('ledger-note').textContent = e.status === 401 || e.status === 403
      ? `The entries need the read token or the admin token (${e.status}: ${e.message}).`
      : `${e.status}: ${e.message}`;
  }
}

// ---- deployments ----------------------------------------------------------------

async function loadDeployments() {
  const d = await api('/deployments');
  const rel = (r) => (r ? `${r.name} ${r.version}` : '—');
  const byId = (id) => d.deployments.find((x) => x.id === id);
  const named = (id) => (id ? `${rel((byId(id) || {}).release)} (${id})` : 'none');
  fill($('deploy-summary'), kv('in progress', named(d.current)), kv('stable', named(d.stable)));
  fill($('deployments').tBodies[0], d.deployments.length
    ? d.deployments.slice(0, 20).map((x) => el('tr', { 'data-id': x.id },
      el('td', { class: 'nowrap' }, el('code', { text: x.id })),
      el('td', { text: `${rel(x.release)}${x.rollback ? ` (rollback to ${x.target})` : ''}` }),
      el('td', {}, badge(x.stage)),
      el('td', { text: when(x.started_ms) }), el('td', { text: when(x.finished_ms) }),
      el('td', { class: 'muted data', title: x.reason || '', text: x.reason || '' })))
    : el('tr', {}, el('td', { colspan: '6', class: 'muted', text: 'no deployment yet' })));
  const newest = d.deployments[0];
  if (!newest) {
    fill($('deploy-detail'));
    return;
  }
  let one;
  try {
    one = await api(`/deployments/${encodeURIComponent(newest.id)}`, { headers: readHeaders() });
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    fill($('deploy-detail'), el('p', { class: 'muted', text: `${newest.id}: ${e.status}: ${e.message}` }));
    return;
  }
  const stages = (one.events || []).slice(-8);
  fill($('deploy-detail'),
    el('div', { class: 'sub' }, `Newest: ${rel(one.release)} `, badge(one.stage),
      el('span', { class: 'muted', text: ` ${one.waves} wave${one.waves === 1 ? '' : 's'}` })),
    stages.length ? el('ol', { class: 'feed compact' }, stages.map((e) => el('li', {},
      el('span', { class: 'time', text: clock(e.time_ms) }), el('span', {}, el('b', { text: e.kind }), ` ${e.message}`)))) : null,
    el('div', { class: 'table-wrap' }, el('table', {},
      el('thead', {}, el('tr', {}, ['node', 'desired', 'running', 'health', 'healthy since', 'detail'].map((h) => el('th', { text: h })))),
      el('tbody', {}, (one.nodes || []).map((n) => el('tr', { 'data-node': n.node },
        el('td', { text: n.node }), el('td', {}, el('code', { text: n.desired || '—' })),
        el('td', {}, el('code', { text: n.running || '—' })),
        el('td', {}, badge(n.health || 'none'), n.skipped ? [' ', badge(n.skipped, 'bad')] : null),
        el('td', { text: when(n.healthy_since_ms) }),
        el('td', { class: 'muted', text: n.detail || '' })))))));
}

// ---- chaos ------------------------------------------------------------------------

async function loadChaos() {
  const c = await api('/chaos');
  const s = c.settings;
  const fault = (f) => `${f.kind} on ${f.target || f.peer || '?'}${f.service ? `/${f.service}` : ''}`;
  fill($('chaos-state'),
    el('span', {}, 'kill switch ', c.stopped ? badge('on: chaos stopped', 'bad') : badge('off', 'ok')),
    kv('injector', s.enabled ? `on, every ${duration(s.interval_ms)}` : 'off'),
    kv('faults', s.faults.join(', ') || 'none'),
    kv('window', s.window),
    kv('active', c.active
      ? `${fault(c.active)}, ${duration(Math.max(0, c.active.expires_ms - Date.now()))} left of ${duration(c.active.duration_ms)}`
      : 'none'),
    kv('applied here', c.applied_here.length ? c.applied_here.map(fault).join('; ') : 'none'));
  $('chaos-stop').disabled = false;
  const hist = c.history.slice(-15).reverse();
  fill($('chaos-history'), hist.length
    ? hist.map((h) => el('li', {},
      el('span', { class: 'time', text: when(h.at_ms) }),
      el('span', {}, el('b', { text: h.record }), ' ', h.kind ? fault(h) : '', h.reason ? ` — ${h.reason}` : '')))
    : el('li', { class: 'empty', text: 'no chaos recorded since this node started' }));
}

// ---- drills and recoveries -------------------------------------------------------------

async function loadDrills() {
  const d = await api('/drills?limit=1000');
  const list = d.drills.slice(-8).reverse();
  fill($('drills'), list.length
    ? list.map((x) => el('div', { class: 'drill', 'data-index': String(x.index) },
      el('div', { class: 'drill-head' },
        el('b', { text: x.title }), badge(x.verdict),
        el('span', { class: 'muted', text: `${when(x.started_ms)} · took ${duration(x.ended_ms - x.started_ms)}` }),
        x.notarization ? badge(`notarized at ${x.notarization.checkpoint}`, 'ok') : badge('not notarized yet', 'warn')),
      el('table', {},
        el('thead', {}, el('tr', {}, ['fault', 'target', 'detected in', 'recovered in', 'SLO', ''].map((h) => el('th', { text: h })))),
        el('tbody', {}, (x.faults || []).map((f) => el('tr', {},
          el('td', { text: f.name || f.kind }), el('td', { text: f.target || '—' }),
          el('td', { text: duration(f.time_to_detect_ms) }), el('td', { text: duration(f.time_to_recover_ms) }),
          el('td', { text: duration(f.slo_ms) }), el('td', {}, badge(f.met ? 'met' : 'missed', f.met ? 'ok' : 'bad'))))))))
    : el('p', { class: 'muted', text: d.complete ? 'no drill recorded yet (chimeractl drill run)' : 'searching the ledger…' }));
}

async function loadRecovery() {
  const r = await api('/recovery');
  const svc = r.services.map((s) => el('tr', {},
    el('td', { text: s.name }), el('td', {}, badge(s.state)), el('td', { text: s.restarts }),
    el('td', { text: s.last_cause || '—' }),
    el('td', { text: s.mttr.count ? `${duration(s.mttr.p50_ms)} (max ${duration(s.mttr.max_ms)})` : '—' })));
  const recent = r.recent.slice(0, 10).map((x) => el('tr', {},
    el('td', { text: when(x.failed_at_ms) }), el('td', { text: x.service }), el('td', { text: x.cause }),
    el('td', { text: x.attempts }), el('td', {}, el('b', { text: duration(x.ttr_ms) }))));
  fill($('recovery'),
    el('div', { class: 'kv' },
      kv('watchtower', r.enabled ? 'on' : 'off'), kv('restarts', r.restarts_total), kv('marked failed', r.failed_total)),
    svc.length ? el('table', {},
      el('thead', {}, el('tr', {}, ['service', 'state', 'restarts', 'last cause', 'time to recover (p50)'].map((h) => el('th', { text: h })))),
      el('tbody', {}, svc)) : el('p', { class: 'muted', text: 'no release runs here' }),
    el('div', { class: 'sub', text: 'recent recoveries' }),
    recent.length ? el('table', {},
      el('thead', {}, el('tr', {}, ['failed at', 'service', 'cause', 'attempts', 'time to recover'].map((h) => el('th', { text: h })))),
      el('tbody', {}, recent)) : el('p', { class: 'muted', text: 'none' }));
}

// ---- actions: the admin token, the kill switch, rollbacks --------------------------

let tokenWaiter = null;

function askToken() {
  return new Promise((resolve) => {
    tokenWaiter = resolve;
    $('token-input').value = '';
    $('token-dialog').returnValue = ''; // Escape leaves the last one
    $('token-dialog').showModal();
    $('token-input').focus();
  });
}

function setupTokenDialog() {
  const dlg = $('token-dialog');
  $('token-button').addEventListener('click', () => askToken());
  // Only "Use this token" submits, so that Enter in the field uses it.
  $('token-forget').addEventListener('click', () => dlg.close('forget'));
  $('token-cancel').addEventListener('click', () => dlg.close('cancel'));
  dlg.addEventListener('close', () => {
    const v = dlg.returnValue;
    const t = $('token-input').value.trim();
    $('token-input').value = '';
    if (v === 'ok' && t) sessionStorage.setItem(TOKEN_KEY, t);
    if (v === 'forget') sessionStorage.removeItem(TOKEN_KEY);
    updateTokenButton();
    const w = tokenWaiter;
    tokenWaiter = null;
    if (w) w(v === 'ok' && t ? t : null);
  });
  updateTokenButton();
}

function updateTokenButton() {
  $('token-button').textContent = sessionStorage.getItem(TOKEN_KEY) ? 'Admin token ✓' : 'Admin token';
}

function showResult(id, cls, ...content) {
  const r = $(id);
  r.hidden = false;
  r.className = `result ${cls}`;
  fill(r, ...content);
}

// Sends a mutation with the admin token (asked for when the tab has none)
// and shows what the node answered, its error included.
async function act(resultId, method, path, body, okText) {
  let token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) token = await askToken();
  if (!token) return;
  showResult(resultId, 'info', `${method} ${path}…`);
  try {
    const answer = await api(path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      timeout: 15000,
    });
    showResult(resultId, 'ok', okText(answer));
  } catch (e) {
    if (!(e instanceof HttpError)) {
      showResult(resultId, 'error', `${method} ${path}: no answer (${e.message})`);
      return;
    }
    if (e.status === 307) {
      const s = page.state;
      const leader = s && s.peers.find((p) => p.node === s.leader);
      showResult(resultId, 'error', `${s ? s.node : 'this node'} is not the leader: this must go to the leader`,
        leader && httpUrl(leader.http)
          ? [' ', el('a', { href: `${httpUrl(leader.http)}/ui/` }, `${leader.node}: open its console`), ' and try there.']
          : '.');
      return;
    }
    const hint = e.status === 401 || e.status === 403 ? ' (Admin token: set the right one)' : '';
    showResult(resultId, 'error', `${e.status}: ${e.message}${hint}`);
  }
  refresh('state', 'chaos', 'deployments');
}

function setupActions() {
  $('chaos-stop').addEventListener('click', () =>
    act('chaos-result', 'POST', '/chaos/stop', {}, (a) =>
      a.stopped
        ? `Chaos stopped everywhere (healed here: ${a.healed_here}); the injector stays off until resumed.`
        : `Healed on this node only (${a.healed_here}): ${a.warning || 'the stop was not recorded'}`));
  $('chaos-enable').addEventListener('click', () =>
    act('chaos-result', 'POST', '/chaos/enable', {}, () => 'Chaos resumed: the injector may run again.'));
  $('rollback').addEventListener('click', () => {
    const to = $('rollback-to').value.trim();
    if (!confirm(to ? `Roll the federation back to ${to}?` : 'Roll the federation back to the previous stable release?')) return;
    act('deploy-result', 'POST', '/rollback', to ? { to } : {}, (a) =>
      `Rollback ${a.id} committed: to ${a.release ? `${a.release.name} ${a.release.version}` : a.target}${a.reason ? ` (${a.reason})` : ''}.`);
  });
}

// ---- start -----------------------------------------------------------------------

async function start() {
  setupTokenDialog();
  setupActions();
  $('event-filter').addEventListener('change', () => renderFeed(false));
  $('event-search').addEventListener('input', () => renderFeed(false));
  $('lost-stay').addEventListener('click', () => {
    page.stayHere = true;
    clearTimeout(page.switchTimer);
    $('lost-stay').hidden = true;
    $('lost-text').textContent = 'The last state it gave is shown, greyed. Staying here; retrying it.';
  });
  const from = /[#&]from=([^&]+)/.exec(location.hash);
  if (from) {
    const b = $('banner-switched');
    b.hidden = false;
    b.textContent = `${decodeURIComponent(from[1])} stopped answering: this is the console of another member.`;
    history.replaceState(null, '', location.pathname);
  }
  try {
    addEvents(await api('/events?limit=200'), false);
  } catch {
    // unreachable() says so
  }
  refreshAll();
  openStream();
  setInterval(() => !page.down && refreshAll(), SAFETY_REFRESH_MS);
  // The silence of a suspect or dead member grows between refreshes: shown
  // growing, without asking the node.
  setInterval(() => page.state && !page.down && renderMembers(page.state), 1000);
}

start();
