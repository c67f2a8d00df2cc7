// app.js - Parley's browser client: sign in with a token, the member
// channels in a sidebar, a channel's history (newest at the bottom, older
// pages loaded on scroll by cursor), live events over the RTM WebSocket in
// seq order, a composer that sends over the socket (pending until the ack,
// failed with the error), unread badges, reconnect + resume.
//
// No innerHTML anywhere: every piece of user text goes through textContent
// or a text node.
import { Api, ApiError, AUTH_ERRORS } from './api.js';
import { Rtm } from './rtm.js';

const TOKEN_KEY = 'parley.token';
const PAGE = 50;                // history page size
const MAX_RTM_TEXT = 4000;      // RTM send limit (PROTOCOL.md)
const GROUP_GAP_S = 5 * 60;     // same author within 5 min: no new header

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- state

const S = {
  api: null,
  rtm: null,
  self: null,          // {id, name, team_id, team}
  users: new Map(),    // id -> name
  userLookups: new Set(),
  chans: new Map(),    // id -> channel state (see newChan)
  order: [],           // channel ids in sidebar order
  current: null,       // selected channel id
  epochs: {},          // channel -> epoch (hello / resumed)
  outbox: [],          // local messages not yet acknowledged, in send order
  typing: new Map(),   // channel -> Map(user -> expiry ms)
  lastTypingSent: 0,
  presence: new Map(), // user -> 'active' | 'away' (presence_sub batch, then changes)
  manualAway: false,   // users.setPresence away (manual_presence_change)
  lastActiveSent: 0,
};

const PRESENCE_SUB_MAX = 500;     // the gateway's limit per presence_sub
const USER_ACTIVE_EVERY_MS = 60 * 1000;

function newChan(c) {
  return {
    id: c.id,
    name: c.name || c.id,
    isPrivate: !!c.is_private,
    msgs: new Map(),   // ts -> message (top-level only)
    seq: 0,            // highest seq of this channel's events applied (0: unknown)
    cursor: '',        // next older page
    hasMore: false,
    loaded: false,     // the newest page has been fetched
    loading: null,     // the history fetch in flight (a promise)
    unread: 0,
    mentions: 0,
    replies: new Map(), // thread ts -> count of replies seen live
  };
}

// ---------------------------------------------------------------- helpers

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const tsNum = (ts) => Number(ts) || 0;

function userName(id) {
  if (!id) return 'unknown';
  const n = S.users.get(id);
  if (n) return n;
  lookupUser(id);
  return id;
}

async function lookupUser(id) {
  if (S.userLookups.has(id) || !S.api) return;
  S.userLookups.add(id);
  try {
    const j = await S.api.call('users.info', { user: id });
    S.users.set(id, j.user.name);
    renderMessages({ keepScroll: true });
  } catch { /* keep the id */ }
}

function hue(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % 360;
}

function timeOf(ts) {
  const d = new Date(tsNum(ts) * 1000);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function dayOf(ts) {
  const d = new Date(tsNum(ts) * 1000);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return 'Today';
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return d.toLocaleDateString([], { weekday: 'long', month: 'long', day: 'numeric' });
}

const EMOJI = {
  '+1': '👍', thumbsup: '👍', '-1': '👎', thumbsdown: '👎', heart: '❤️', smile: '😄',
  joy: '😂', tada: '🎉', eyes: '👀', fire: '🔥', rocket: '🚀', white_check_mark: '✅',
  pray: '🙏', wave: '👋', ok_hand: '👌', thinking_face: '🤔', clap: '👏', '100': '💯',
};

// Slack's text: <@U…> mentions, <#C…|name> channels, <url|label> links,
// bare http(s) URLs; everything else is plain text (a text node).
function renderText(text, into) {
  const re = /<(@[A-Z0-9]+|#[A-Z0-9]+(?:\|[^>]*)?|https?:\/\/[^>|\s]+(?:\|[^>]*)?)>|(https?:\/\/[^\s<>]+)/g;
  let last = 0;
  let m;
  const s = String(text ?? '');
  while ((m = re.exec(s)) !== null) {
    if (m.index > last) into.append(document.createTextNode(s.slice(last, m.index)));
    if (m[2]) {
      into.append(link(m[2], m[2]));
    } else if (m[1][0] === '@') {
      const id = m[1].slice(1);
      const span = el('span', id === S.self?.id ? 'mention me' : 'mention', `@${userName(id)}`);
      into.append(span);
    } else if (m[1][0] === '#') {
      const [id, label] = m[1].slice(1).split('|');
      const c = S.chans.get(id);
      into.append(el('span', 'mention', `#${label || (c ? c.name : id)}`));
    } else {
      const [url, label] = m[1].split('|');
      into.append(link(url, label || url));
    }
    last = re.lastIndex;
  }
  if (last < s.length) into.append(document.createTextNode(s.slice(last)));
}

function link(url, label) {
  const a = el('a', null, label);
  try {
    const u = new URL(url);
    if (u.protocol === 'http:' || u.protocol === 'https:') {
      a.href = u.href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
    }
  } catch { /* not a URL: plain text in an <a> without href */ }
  return a;
}

function mentionsMe(text) {
  return !!S.self && String(text || '').includes(`<@${S.self.id}>`);
}

// ---------------------------------------------------------------- sign in

function storedToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

function storeToken(t) {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* private mode: this tab only */ }
}

function showSignin(error) {
  $('app').hidden = true;
  $('signin').hidden = false;
  const e = $('signin-error');
  e.hidden = !error;
  e.textContent = error || '';
  $('signin-button').disabled = false;
  $('token-input').focus();
}

async function signIn(token) {
  $('signin-button').disabled = true;
  const api = new Api(token);
  let who;
  try {
    who = await api.call('auth.test', {}, { retries: 1 });
  } catch (e) {
    const code = e instanceof ApiError ? e.code : String(e);
    if (AUTH_ERRORS.has(code)) storeToken('');
    showSignin(AUTH_ERRORS.has(code) ? `That token was refused (${code}).`
      : `Could not reach Parley (${code}).`);
    return;
  }
  storeToken(token);
  S.api = api;
  S.self = { id: who.user_id, name: who.user, team_id: who.team_id, team: who.team };
  S.users.set(who.user_id, who.user);
  $('signin').hidden = true;
  $('app').hidden = false;
  $('team-name').textContent = who.team || who.team_id;
  $('me-name').textContent = who.user;
  document.title = `Parley — ${who.team || ''}`;
  await Promise.all([loadUsers(), loadChannels(), loadPresence()]);
  const want = decodeURIComponent(location.hash.slice(1));
  const byName = [...S.chans.values()].find((c) => c.name === want || c.id === want);
  const general = [...S.chans.values()].find((c) => c.name === 'general');
  const first = byName || general || S.chans.get(S.order[0]);
  if (first) await selectChannel(first.id);
  else renderAll();
  // the socket after the first history page: its resume covers the gap
  S.rtm = new Rtm(token, {
    resumeState,
    onEvent,
    onState: renderConn,
    onAuthFailed,
    // a socket that keeps failing may be a revoked token (a refused upgrade
    // is only a 1006 to a browser): ask auth.test every third attempt
    onRetry: (n) => { if (n % 3 === 0) onAuthFailed('check'); },
  });
  S.rtm.start();
}

function signOut(message) {
  if (S.rtm) S.rtm.stop();
  storeToken('');
  location.hash = '';
  // a clean page: no state to undo
  const u = new URL(location.href);
  u.hash = '';
  if (message) u.searchParams.set('signed_out', message);
  location.replace(u.href);
}

async function onAuthFailed(code) {
  // 4001 may be a passing refusal: ask auth.test before giving up
  try {
    await S.api.call('auth.test', {}, { retries: 0 });
  } catch (e) {
    if (e instanceof ApiError && AUTH_ERRORS.has(e.code)) signOut(`Signed out: ${e.code}`);
    return;
  }
  if (code === 'token_expired' || code === 'account_inactive') signOut(`Signed out: ${code}`);
}

// ---------------------------------------------------------------- loading

async function loadUsers() {
  try {
    const users = await S.api.all('users.list', { limit: 200 }, 'members');
    for (const u of users) S.users.set(u.id, u.name);
  } catch { /* names are looked up one by one */ }
}

// ---------------------------------------------------------------- presence

// loadPresence - our own manual away (the dots come with presence_sub)
async function loadPresence() {
  try {
    const p = await S.api.call('users.getPresence', {});
    S.manualAway = !!p.manual_away;
  } catch { /* the toggle shows "auto" until an event says otherwise */ }
}

// subscribePresence - watch the team's users (every hello: a subscription
// lives as long as its socket); the answer is the current state, batched
function subscribePresence() {
  const ids = [...S.users.keys()].slice(0, PRESENCE_SUB_MAX);
  if (S.rtm && ids.length) S.rtm.sendRaw({ type: 'presence_sub', ids });
}

// onPresence - presence_change, single ({user}) or batched ({users:[…]})
function onPresence(ev) {
  for (const u of ev.users || [ev.user]) if (u) S.presence.set(u, ev.presence);
  renderPeople();
}

async function toggleAway() {
  const want = S.manualAway ? 'auto' : 'away';
  $('away-toggle').disabled = true;
  try {
    await S.api.call('users.setPresence', { presence: want });
    S.manualAway = want === 'away';
  } catch (e) {
    console.warn('parley: users.setPresence', e);
  } finally {
    $('away-toggle').disabled = false;
    renderPeople();
  }
}

// userActive - tell presence the user is here (resets auto-away), at most
// once a minute; a sent message counts by itself
function userActive() {
  const now = Date.now();
  if (!S.rtm || !S.rtm.isLive() || now - S.lastActiveSent < USER_ACTIVE_EVERY_MS) return;
  S.lastActiveSent = now;
  S.rtm.sendRaw({ type: 'user_active' });
}

function presenceOf(id) {
  return S.presence.get(id) === 'active' ? 'active' : 'away';
}

function renderPeople() {
  const ul = $('people-list');
  if (!ul) return;
  const frag = document.createDocumentFragment();
  const ids = [...S.users.keys()].sort((a, b) => userName(a).localeCompare(userName(b)));
  for (const id of ids) {
    const li = el('li', 'person');
    li.dataset.id = id;
    const dot = el('span', 'presence-dot');
    dot.dataset.presence = presenceOf(id);
    dot.title = presenceOf(id);
    li.append(dot, el('span', 'person-name', userName(id) + (id === S.self.id ? ' (you)' : '')));
    frag.append(li);
  }
  ul.replaceChildren(frag);
  const me = $('me-presence');
  me.dataset.presence = presenceOf(S.self.id);
  me.title = S.manualAway ? 'away (set by you)' : presenceOf(S.self.id);
  $('away-toggle').textContent = S.manualAway ? 'Set yourself active' : 'Set yourself away';
  $('away-toggle').setAttribute('aria-pressed', S.manualAway ? 'true' : 'false');
}

async function loadChannels() {
  const list = await S.api.all('conversations.list',
    { types: 'public_channel,private_channel', exclude_archived: true, limit: 200 }, 'channels');
  const seen = new Set();
  for (const c of list) {
    if (!c.is_member) continue;
    seen.add(c.id);
    const have = S.chans.get(c.id);
    if (have) { have.name = c.name; have.isPrivate = !!c.is_private; } else S.chans.set(c.id, newChan(c));
  }
  for (const id of [...S.chans.keys()]) if (!seen.has(id)) S.chans.delete(id);
  S.order = [...S.chans.values()].sort((a, b) => a.name.localeCompare(b.name)).map((c) => c.id);
  if (S.current && !S.chans.has(S.current)) S.current = null;
  renderSidebar();
  loadCounts().catch(() => {});
}

// the server's counts (notify-svc's client.counts): unread and mention
// badges survive a reload and follow reads made on other devices
async function loadCounts() {
  const j = await S.api.call('client.counts', {}, { retries: 1 });
  for (const c of [...(j.channels || []), ...(j.mpims || []), ...(j.ims || [])]) {
    const ch = S.chans.get(c.id);
    if (!ch || ch.id === S.current) continue;
    ch.unread = c.unread_count || 0;
    ch.mentions = c.mention_count || 0;
  }
  renderSidebar();
}

// the newest page (replace = true: forget what we had, e.g. resync_required)
async function loadNewest(ch, replace = false) {
  if (ch.loading) return ch.loading;
  ch.loading = (async () => {
    if (ch.id === S.current) $('history-state').textContent = 'loading…';
    try {
      const j = await S.api.call('conversations.history', { channel: ch.id, limit: PAGE });
      const page = (j.messages || []).filter(isTopLevel);
      if (replace || !ch.loaded) {
        // drop what the page covers and no longer has (deleted meanwhile)
        const lo = page.length ? tsNum(page[page.length - 1].ts) : 0;
        const keep = new Set(page.map((m) => m.ts));
        for (const [ts, m] of ch.msgs) {
          if (replace || (tsNum(ts) >= lo && !keep.has(ts) && m.seq <= maxSeq(j.messages))) ch.msgs.delete(ts);
        }
        ch.cursor = (j.response_metadata && j.response_metadata.next_cursor) || '';
        ch.hasMore = !!j.has_more && !!ch.cursor;
      }
      for (const m of page) putMessage(ch, m);
      ch.seq = Math.max(ch.seq, maxSeq(j.messages));
      ch.loaded = true;
      if (ch.id === S.current) $('history-state').textContent = '';
    } catch (e) {
      if (ch.id === S.current) $('history-state').textContent = `could not load history (${e.code || e})`;
      throw e;
    } finally {
      ch.loading = null;
    }
  })();
  return ch.loading;
}

function maxSeq(msgs) {
  let s = 0;
  for (const m of msgs || []) if (Number(m.seq) > s) s = Number(m.seq);
  return s;
}

async function loadOlder() {
  const ch = S.chans.get(S.current);
  if (!ch || !ch.hasMore || ch.loading) return;
  const btn = $('load-older');
  btn.disabled = true;
  $('history-state').textContent = 'loading older…';
  ch.loading = (async () => {
    try {
      const j = await S.api.call('conversations.history', { channel: ch.id, limit: PAGE, cursor: ch.cursor });
      for (const m of (j.messages || []).filter(isTopLevel)) putMessage(ch, m);
      ch.cursor = (j.response_metadata && j.response_metadata.next_cursor) || '';
      ch.hasMore = !!j.has_more && !!ch.cursor;
      $('history-state').textContent = '';
    } catch (e) {
      $('history-state').textContent = `could not load older messages (${e.code || e})`;
    } finally {
      ch.loading = null;
      btn.disabled = false;
    }
  })();
  await ch.loading;
  if (ch.id === S.current) renderMessages({ prepend: true });
}

function isTopLevel(m) {
  return !m.thread_ts || m.thread_ts === m.ts;
}

function putMessage(ch, m) {
  const old = ch.msgs.get(m.ts);
  const merged = { ...old, ...m, state: 'sent' };
  if (old && old.reactions && !m.reactions) merged.reactions = old.reactions;
  ch.msgs.set(m.ts, merged);
}

// ---------------------------------------------------------------- selection

async function selectChannel(id) {
  const ch = S.chans.get(id);
  if (!ch) return;
  S.current = id;
  ch.unread = 0;
  ch.mentions = 0;
  history.replaceState(null, '', `#${encodeURIComponent(ch.name)}`);
  renderAll();
  $('composer-input').focus();
  if (!ch.loaded) {
    try {
      await loadNewest(ch);
    } catch { /* shown in history-state */ }
    if (S.current === id) renderMessages({ toBottom: true });
  }
  markRead(ch);
}

// ---------------------------------------------------------------- search

const SEARCH_PAGE = 20;

// search.messages with highlight: U+E000 … U+E001 around each match
async function runSearch(query, page = 1) {
  const q = query.trim();
  if (!q) return;
  S.search = { query: q, page };
  $('search-panel').hidden = false;
  $('search-title').textContent = `Results for ${q}`;
  $('search-state').textContent = 'searching…';
  $('search-more').hidden = true;
  if (page === 1) $('search-results').replaceChildren();
  let j;
  try {
    j = await S.api.call('search.messages', { query: q, count: SEARCH_PAGE, page, highlight: 'true' });
  } catch (e) {
    if (S.search.query === q) $('search-state').textContent = `search failed: ${e.code || e}`;
    return;
  }
  if (S.search.query !== q) return;     // a newer search replaced this one
  const m = j.messages || {};
  const total = m.total || 0;
  $('search-state').textContent = total ? `${total} result${total === 1 ? '' : 's'}` : 'No results';
  for (const hit of m.matches || []) $('search-results').append(searchItem(hit));
  const pages = (m.paging && m.paging.pages) || 0;
  $('search-more').hidden = page >= pages;
}

function renderHighlighted(text, into) {
  const parts = String(text ?? '').split(/(\ue000[^\ue001]*\ue001)/);
  for (const p of parts) {
    if (p.startsWith('\ue000')) into.append(el('mark', null, p.slice(1, -1)));
    else if (p) renderText(p, into);
  }
}

function searchItem(hit) {
  const li = el('li', 'search-hit');
  const b = el('button', 'search-jump');
  b.type = 'button';
  const ch = hit.channel || {};
  const where = ch.is_im ? 'direct message' : `${ch.is_private ? '🔒' : '#'}${ch.name || ch.id}`;
  const head = el('div', 'head');
  head.append(el('span', 'where', where), el('span', 'author', hit.username || userName(hit.user)),
    el('time', 'time', `${dayOf(hit.ts)} ${timeOf(hit.ts)}`));
  const text = el('div', 'text');
  renderHighlighted(hit.text, text);
  b.append(head, text);
  b.addEventListener('click', () => jumpTo(ch.id, hit.ts));
  li.append(b);
  return li;
}

// jumpTo - open the message's channel and bring the message into view
// (older pages are loaded until it is there, at most 20)
async function jumpTo(cid, ts) {
  const ch = S.chans.get(cid);
  if (!ch) {
    $('search-state').textContent = 'That conversation is not in your channel list.';
    return;
  }
  $('search-panel').hidden = true;
  await selectChannel(cid);
  for (let i = 0; i < 20 && !ch.msgs.has(ts) && ch.hasMore && S.current === cid; i++) await loadOlder();
  if (S.current !== cid) return;
  renderMessages();
  const li = [...document.querySelectorAll('#message-list li.msg')].find((x) => x.dataset.ts === ts);
  if (!li) {
    $('history-state').textContent = 'That message is in a thread or no longer here.';
    return;
  }
  li.scrollIntoView({ block: 'center' });
  li.classList.add('flash');
  setTimeout(() => li.classList.remove('flash'), 2500);
}

let markTimer = null;
function markRead(ch) {
  clearTimeout(markTimer);
  const newest = [...ch.msgs.values()].reduce((a, m) => (tsNum(m.ts) > tsNum(a) ? m.ts : a), '');
  if (!newest || !S.api) return;
  markTimer = setTimeout(() => {
    S.api.call('conversations.mark', { channel: ch.id, ts: newest }, { retries: 0 }).catch(() => {});
  }, 1000);
}

// ---------------------------------------------------------------- live events

function resumeState() {
  const last = {};
  const epoch = {};
  for (const ch of S.chans.values()) {
    if (ch.seq > 0) {
      last[ch.id] = ch.seq;
      if (S.epochs[ch.id]) epoch[ch.id] = S.epochs[ch.id];
    }
  }
  return { last_seq: last, epoch };
}

function eventChannel(ev) {
  if (ev.channel && typeof ev.channel === 'string') return ev.channel;
  if (ev.item && ev.item.channel) return ev.item.channel;
  if (ev.channel && ev.channel.id) return ev.channel.id;
  return null;
}

function onEvent(ev) {
  switch (ev.type) {
    case 'hello':
    case 'resumed':
      if (ev.epochs) Object.assign(S.epochs, ev.epochs);
      if (ev.type === 'hello') subscribePresence();
      if (ev.type === 'resumed') flushOutbox();
      return;
    case 'presence_change':
      return onPresence(ev);
    case 'manual_presence_change':
      S.manualAway = ev.presence === 'away';
      return renderPeople();
    case 'resync_required': {
      const ch = S.chans.get(ev.channel);
      if (!ch) return;
      delete S.epochs[ch.id];
      ch.seq = 0;
      if (ch.loaded || ch.id === S.current) {
        ch.loaded = false;
        loadNewest(ch, true).then(() => {
          if (ch.id === S.current) renderMessages({ toBottom: true });
        }).catch(() => {});
      }
      return;
    }
    case 'user_typing':
      return onTyping(ev);
    case 'channel_created':
    case 'member_joined_channel':
    case 'member_left_channel':
    case 'channel_rename':
    case 'channel_archive':
      if (!ev.user || ev.user === S.self.id || ev.type === 'channel_created' || ev.type === 'channel_rename') {
        loadChannels().then(renderAll).catch(() => {});
      }
      return;
    case 'channel_marked':
    case 'group_marked':
    case 'im_marked': {
      // read on another device: the server's counts say what is left
      const ch = S.chans.get(ev.channel);
      if (ch && ch.id !== S.current) loadCounts().catch(() => {});
      return;
    }
    case 'error':
      console.warn('parley: server error', ev.error);
      return;
    default:
      break;
  }
  const cid = eventChannel(ev);
  const ch = cid && S.chans.get(cid);
  if (!ch) {
    if (cid && ev.type === 'message' && !S.chans.has(cid)) loadChannels().catch(() => {});
    return;
  }
  const seq = Number(ev.seq) || 0;
  if (seq) {
    if (ch.seq && seq <= ch.seq) return; // already have it (resume overlap)
    if (ch.seq && seq > ch.seq + 1 && ch.loaded) {
      // a gap the gateway did not fill: take the newest page again
      ch.seq = seq;
      loadNewest(ch).then(() => { if (ch.id === S.current) renderMessages({ keepScroll: true }); }).catch(() => {});
    }
    ch.seq = Math.max(ch.seq, seq);
  }
  if (ev.epoch) S.epochs[ch.id] = ev.epoch;
  applyEvent(ch, ev);
}

function applyEvent(ch, ev) {
  const cur = ch.id === S.current;
  if (ev.type === 'reaction_added' || ev.type === 'reaction_removed') {
    const m = ch.msgs.get(ev.item && ev.item.ts);
    if (!m) return;
    const list = (m.reactions || []).map((r) => ({ ...r, users: [...(r.users || [])] }));
    let r = list.find((x) => x.name === ev.reaction);
    if (ev.type === 'reaction_added') {
      if (!r) { r = { name: ev.reaction, users: [], count: 0 }; list.push(r); }
      if (!r.users.includes(ev.user)) { r.users.push(ev.user); r.count = r.users.length; }
    } else if (r) {
      r.users = r.users.filter((u) => u !== ev.user);
      r.count = r.users.length;
    }
    m.reactions = list.filter((x) => x.count > 0);
    if (cur) renderMessages({ keepScroll: true });
    return;
  }
  if (ev.type !== 'message') return;

  if (ev.subtype === 'message_changed' && ev.message) {
    const m = ch.msgs.get(ev.message.ts);
    if (m) {
      m.text = ev.message.text;
      m.edited = true;
      if (cur) renderMessages({ keepScroll: true });
    }
    return;
  }
  if (ev.subtype === 'message_deleted') {
    if (ch.msgs.delete(ev.deleted_ts) && cur) renderMessages({ keepScroll: true });
    return;
  }
  if (!isTopLevel(ev)) {
    // a thread reply: counted on its parent, not shown in the channel
    const parent = ch.msgs.get(ev.thread_ts);
    if (parent) {
      parent.reply_count = (parent.reply_count || 0) + 1;
      if (cur) renderMessages({ keepScroll: true });
    }
    return;
  }
  const msg = { type: 'message', user: ev.user, text: ev.text, ts: ev.ts, seq: ev.seq,
    subtype: ev.subtype, client_msg_id: ev.client_msg_id, state: 'sent' };
  // our own message coming back: it replaces the pending copy
  if (ev.client_msg_id) settleLocal(ev.client_msg_id, msg);
  if (!ch.loaded && !cur) {
    // not loaded yet: the history fetch will bring it; only count it
  } else {
    putMessage(ch, msg);
  }
  stopTyping(ch.id, ev.user);
  const mine = ev.user === S.self.id;
  if (!mine && !ev.subtype && !cur) {
    ch.unread++;
    if (mentionsMe(ev.text)) ch.mentions++;
    renderSidebar();
  }
  if (cur) {
    renderMessages({ keepScroll: !mine, toBottom: mine, arrived: !mine });
    markRead(ch);
  }
}

// ---------------------------------------------------------------- typing

function onTyping(ev) {
  const cid = ev.channel;
  if (!cid || ev.user === S.self.id) return;
  if (!S.typing.has(cid)) S.typing.set(cid, new Map());
  S.typing.get(cid).set(ev.user, Date.now() + 5000);
  renderTyping();
  setTimeout(renderTyping, 5100);
}

function stopTyping(cid, user) {
  const m = S.typing.get(cid);
  if (m && m.delete(user)) renderTyping();
}

function renderTyping() {
  const m = S.typing.get(S.current);
  const now = Date.now();
  const who = m ? [...m].filter(([, exp]) => exp > now).map(([u]) => userName(u)) : [];
  $('typing').textContent = who.length === 0 ? ''
    : who.length === 1 ? `${who[0]} is typing…`
      : who.length === 2 ? `${who[0]} and ${who[1]} are typing…` : 'Several people are typing…';
}

// ---------------------------------------------------------------- sending

function send(text) {
  const ch = S.chans.get(S.current);
  if (!ch || !text.trim()) return;
  const local = {
    cmid: uuid(), channel: ch.id, text, state: 'pending', error: '',
    at: Date.now() / 1000, sending: false, retryTimer: null,
  };
  S.outbox.push(local);
  renderMessages({ toBottom: true });
  if (S.rtm && S.rtm.isLive()) sendLocal(local);
}

async function sendLocal(local) {
  if (local.sending || local.state === 'sent') return;
  local.sending = true;
  local.state = 'pending';
  local.error = '';
  renderMessages({ keepScroll: true });
  try {
    const ack = await S.rtm.request({ type: 'message', channel: local.channel, text: local.text,
      client_msg_id: local.cmid });
    local.sending = false;
    settleLocal(local.cmid, { type: 'message', user: S.self.id, text: ack.text ?? local.text, ts: ack.ts,
      seq: ack.seq, client_msg_id: local.cmid, state: 'sent' }, true);
  } catch (e) {
    local.sending = false;
    if (e.code === 'disconnected') {
      // sent again after the resume (same client_msg_id: not posted twice)
      local.state = 'pending';
    } else if (e.code === 'rate_limited' || e.code === 'ratelimited') {
      const after = Math.max(1, Number(e.retryAfter) || 1);
      local.state = 'pending';
      local.error = `rate limited: retrying in ${after}s`;
      local.retryTimer = setTimeout(() => { if (S.rtm.isLive()) sendLocal(local); }, after * 1000);
    } else {
      local.state = 'failed';
      local.error = e.msg ? `${e.code}: ${e.msg}` : e.code;
    }
    renderMessages({ keepScroll: true });
  }
}

// the server has the message (ack or echo): it leaves the outbox
function settleLocal(cmid, msg, fromAck = false) {
  const i = S.outbox.findIndex((l) => l.cmid === cmid);
  if (i < 0) return;
  const local = S.outbox[i];
  S.outbox.splice(i, 1);
  clearTimeout(local.retryTimer);
  const ch = S.chans.get(local.channel);
  if (ch && fromAck && msg.ts) {
    if (!ch.msgs.has(msg.ts)) putMessage(ch, msg);
    // the ack's seq is not applied to ch.seq: the echo event (same seq) must
    // still be taken if it comes, and a gap below it is the gateway's to fill
  }
  if (ch && ch.id === S.current) renderMessages({ keepScroll: true });
}

function flushOutbox() {
  for (const l of S.outbox) if (l.state === 'pending' && !l.sending && !l.retryTimer) sendLocal(l);
  for (const l of S.outbox) if (l.retryTimer) { clearTimeout(l.retryTimer); l.retryTimer = null; sendLocal(l); }
}

function retryLocal(cmid) {
  const l = S.outbox.find((x) => x.cmid === cmid);
  if (!l) return;
  l.state = 'pending';
  l.error = '';
  if (S.rtm && S.rtm.isLive()) sendLocal(l);
  else renderMessages({ keepScroll: true });
}

function discardLocal(cmid) {
  const i = S.outbox.findIndex((x) => x.cmid === cmid);
  if (i >= 0) S.outbox.splice(i, 1);
  renderMessages({ keepScroll: true });
}

// ---------------------------------------------------------------- rendering

function renderAll() {
  renderSidebar();
  renderPeople();
  renderHeader();
  renderMessages({ toBottom: true });
  renderTyping();
}

function renderSidebar() {
  const ul = $('channel-list');
  const frag = document.createDocumentFragment();
  for (const id of S.order) {
    const ch = S.chans.get(id);
    const li = el('li', 'chan');
    li.dataset.id = id;
    li.dataset.name = ch.name;
    if (id === S.current) { li.classList.add('active'); li.setAttribute('aria-current', 'page'); }
    if (ch.unread) li.classList.add('unread');
    const a = el('button', 'chan-button');
    a.type = 'button';
    a.append(el('span', 'chan-icon', ch.isPrivate ? '🔒' : '#'), el('span', 'chan-name', ch.name));
    if (ch.unread) {
      const b = el('span', ch.mentions ? 'badge mention' : 'badge', String(ch.mentions || ch.unread));
      b.title = `${ch.unread} unread`;
      a.append(b);
    }
    a.addEventListener('click', () => selectChannel(id));
    li.append(a);
    frag.append(li);
  }
  ul.replaceChildren(frag);
  const total = [...S.chans.values()].reduce((n, c) => n + (c.unread || 0), 0);
  document.title = `${total ? `(${total}) ` : ''}Parley${S.self && S.self.team ? ` — ${S.self.team}` : ''}`;
}

function renderHeader() {
  const ch = S.chans.get(S.current);
  $('channel-title').textContent = ch ? `${ch.isPrivate ? '🔒 ' : '#'}${ch.name}` : 'No channel';
  $('channel-meta').textContent = ch ? ch.id : '';
  const input = $('composer-input');
  input.placeholder = ch ? `Message ${ch.isPrivate ? '' : '#'}${ch.name}` : 'Join a channel to send messages';
  input.disabled = !ch;
  $('send').disabled = !ch;
}

function atBottom(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
}

// rebuild the message list (a channel holds at most a few pages in the DOM;
// rebuilding keeps ordering trivially right). opts: toBottom, keepScroll
// (stay at the bottom if there, else keep position), prepend (older page
// added above: keep the visible message in place), arrived (show "new" hint)
function renderMessages(opts = {}) {
  const box = $('messages');
  const list = $('message-list');
  const ch = S.chans.get(S.current);
  const wasAtBottom = atBottom(box);
  const fromBottom = box.scrollHeight - box.scrollTop;

  const frag = document.createDocumentFragment();
  if (ch) {
    const msgs = [...ch.msgs.values()].sort((a, b) => (tsNum(a.ts) - tsNum(b.ts)) || ((a.seq || 0) - (b.seq || 0)));
    let prev = null;
    let prevDay = '';
    for (const m of msgs) {
      const day = dayOf(m.ts);
      if (day !== prevDay) {
        const d = el('li', 'day-divider');
        d.append(el('span', null, day));
        frag.append(d);
        prevDay = day;
        prev = null;
      }
      frag.append(messageItem(m, prev));
      prev = m;
    }
    for (const l of S.outbox) {
      if (l.channel !== ch.id) continue;
      frag.append(messageItem({ user: S.self.id, text: l.text, ts: String(l.at), local: l, state: l.state }, prev));
      prev = { user: S.self.id, ts: String(l.at), subtype: undefined };
    }
  }
  list.replaceChildren(frag);

  $('load-older').hidden = !(ch && ch.hasMore);
  const empty = ch && ch.loaded && ch.msgs.size === 0 && !S.outbox.some((l) => l.channel === ch.id);
  if (ch && !ch.hasMore && ch.loaded && !ch.loading) {
    $('history-state').textContent = empty ? 'No messages yet. Say hello!' : `This is the very beginning of #${ch.name}.`;
  }

  if (opts.toBottom || (opts.keepScroll && wasAtBottom)) {
    box.scrollTop = box.scrollHeight;
    $('jump-new').hidden = true;
  } else if (opts.prepend || opts.keepScroll) {
    box.scrollTop = box.scrollHeight - fromBottom;
    if (opts.arrived) $('jump-new').hidden = false;
  }
  renderHeader();
}

function messageItem(m, prev) {
  const li = el('li', 'msg');
  li.dataset.ts = m.ts;
  if (m.seq) li.dataset.seq = String(m.seq);
  li.dataset.user = m.user || '';
  li.dataset.state = m.state || 'sent';
  if (m.local) li.dataset.cmid = m.local.cmid;

  if (m.subtype === 'channel_join' || m.subtype === 'channel_leave') {
    li.classList.add('system');
    li.append(el('span', 'system-text',
      `${userName(m.user)} ${m.subtype === 'channel_join' ? 'joined' : 'left'} the channel`),
    el('time', 'time', timeOf(m.ts)));
    return li;
  }

  const grouped = prev && !prev.subtype && prev.user === m.user &&
    tsNum(m.ts) - tsNum(prev.ts) < GROUP_GAP_S;
  if (grouped) li.classList.add('grouped');

  const gutter = el('div', 'gutter');
  if (!grouped) {
    const av = el('div', 'avatar', (userName(m.user)[0] || '?').toUpperCase());
    av.style.setProperty('--h', String(hue(m.user)));
    av.setAttribute('aria-hidden', 'true');
    gutter.append(av);
  } else {
    gutter.append(el('time', 'time hover-time', timeOf(m.ts)));
  }
  const body = el('div', 'body');
  if (!grouped) {
    const head = el('div', 'head');
    head.append(el('span', 'author', userName(m.user)), el('time', 'time', timeOf(m.ts)));
    const when = new Date(tsNum(m.ts) * 1000);
    head.lastChild.title = when.toLocaleString();
    body.append(head);
  }
  const text = el('div', 'text');
  renderText(m.text, text);
  if (m.edited) text.append(el('span', 'edited', ' (edited)'));
  body.append(text);

  if (m.reactions && m.reactions.length) {
    const rs = el('div', 'reactions');
    for (const r of m.reactions) {
      const chip = el('span', 'reaction', `${EMOJI[r.name] || `:${r.name}:`} ${r.count}`);
      if ((r.users || []).includes(S.self.id)) chip.classList.add('mine');
      chip.title = (r.users || []).map(userName).join(', ');
      rs.append(chip);
    }
    body.append(rs);
  }
  if (m.reply_count) {
    body.append(el('div', 'replies', `${m.reply_count} ${m.reply_count === 1 ? 'reply' : 'replies'}`));
  }
  if (m.local) {
    const st = el('div', `send-state ${m.state}`);
    if (m.state === 'failed') {
      st.append(el('span', 'error', `Not sent — ${m.local.error}`));
      const retry = el('button', 'link-button', 'Retry');
      retry.type = 'button';
      retry.addEventListener('click', () => retryLocal(m.local.cmid));
      const drop = el('button', 'link-button', 'Discard');
      drop.type = 'button';
      drop.addEventListener('click', () => discardLocal(m.local.cmid));
      st.append(retry, drop);
    } else {
      st.append(el('span', null, m.local.error || (S.rtm && S.rtm.isLive() ? 'sending…' : 'waiting for connection…')));
    }
    body.append(st);
  }
  li.append(gutter, body);
  return li;
}

let connTicker = null;
function renderConn(state, info = {}) {
  const c = $('conn');
  c.dataset.state = state;
  $('conn-dot').dataset.state = state;
  clearInterval(connTicker);
  const label = () => {
    switch (state) {
      case 'connecting': return info.attempt ? `connecting (attempt ${info.attempt + 1})…` : 'connecting…';
      case 'resuming': return 'catching up…';
      case 'live': return 'connected';
      case 'waiting': {
        const s = Math.max(0, Math.ceil((info.until - Date.now()) / 1000));
        return `disconnected — retrying in ${s}s`;
      }
      case 'offline': return 'offline — waiting for the network';
      default: return state;
    }
  };
  c.textContent = label();
  if (state === 'waiting') connTicker = setInterval(() => { c.textContent = label(); }, 1000);
  c.title = info.why || '';
  // a retry link while waiting
  if (state === 'waiting' || state === 'offline') {
    const b = el('button', 'link-button', 'Retry now');
    b.type = 'button';
    b.addEventListener('click', () => S.rtm.reconnectNow());
    c.append(' ', b);
  }
  if (state === 'live' || state === 'waiting') renderMessages({ keepScroll: true });
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token-input').value.trim();
    if (t) signIn(t);
  });
  $('signout').addEventListener('click', () => signOut(''));
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    runSearch($('search-input').value);
  });
  $('search-close').addEventListener('click', () => { $('search-panel').hidden = true; });
  $('search-more').addEventListener('click', () => {
    if (S.search) runSearch(S.search.query, S.search.page + 1);
  });
  $('away-toggle').addEventListener('click', toggleAway);
  $('load-older').addEventListener('click', loadOlder);
  $('jump-new').addEventListener('click', () => {
    const box = $('messages');
    box.scrollTop = box.scrollHeight;
    $('jump-new').hidden = true;
  });
  const box = $('messages');
  box.addEventListener('scroll', () => {
    if (atBottom(box)) $('jump-new').hidden = true;
  });
  // lazy loading: the top of the list coming into view asks for older pages
  const io = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) {
      const ch = S.chans.get(S.current);
      if (ch && ch.loaded && ch.hasMore && box.scrollHeight > box.clientHeight) loadOlder();
    }
  }, { root: box, rootMargin: '200px 0px 0px 0px' });
  io.observe($('history-top'));

  const input = $('composer-input');
  const autosize = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  };
  input.addEventListener('input', () => {
    autosize();
    userActive();
    const now = Date.now();
    if (S.rtm && S.rtm.isLive() && S.current && input.value && now - S.lastTypingSent > 3000) {
      S.lastTypingSent = now;
      S.rtm.sendRaw({ id: S.rtm.nextId++, type: 'typing', channel: S.current });
    }
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    if (text.length > MAX_RTM_TEXT) {
      $('typing').textContent = `Too long: ${text.length} characters (at most ${MAX_RTM_TEXT}).`;
      return;
    }
    input.value = '';
    autosize();
    S.lastTypingSent = 0;
    send(text);
  });
  document.addEventListener('visibilitychange', () => {
    const ch = S.chans.get(S.current);
    if (!document.hidden && ch) markRead(ch);
  });
  window.addEventListener('hashchange', () => {
    const want = decodeURIComponent(location.hash.slice(1));
    const c = [...S.chans.values()].find((x) => x.name === want || x.id === want);
    if (c && c.id !== S.current) selectChannel(c.id);
  });
}

function boot() {
  wire();
  const url = new URL(location.href);
  let token = url.searchParams.get('token');
  const note = url.searchParams.get('signed_out');
  if (token || note) {
    // never leave a token in the address bar or the history
    url.searchParams.delete('token');
    url.searchParams.delete('signed_out');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  if (!token) token = storedToken();
  if (token) signIn(token.trim());
  else showSignin(note || '');
}

boot();
