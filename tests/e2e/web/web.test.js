// web.test.js - Parley's browser client (web/) in a real browser: Debian's
// chromium driven by playwright-core, against the stack ./run.sh started.
//   node --test web.test.js     (PARLEY_URL, PARLEY_ADMIN_TOKEN set)
// Screenshots go to build/web-e2e-*.png (repo root).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const fs = require('node:fs');
const { chromium } = require('playwright-core');

const URL_ = (process.env.PARLEY_URL || '').replace(/\/+$/, '');
const ADMIN = process.env.PARLEY_ADMIN_TOKEN || '';
const CHROMIUM = process.env.PARLEY_CHROMIUM || '/usr/bin/chromium';
const OUT = path.resolve(__dirname, '../../../build');
if (!URL_ || !ADMIN) throw new Error('PARLEY_URL and PARLEY_ADMIN_TOKEN must be set (./run.sh sets them)');

const unique = (p) => p + crypto.randomBytes(4).toString('hex');

async function api(method, token, params = {}) {
  const r = await fetch(`${URL_}/api/${method}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(15000),
  });
  assert.equal(r.status, 200, `${method}: HTTP ${r.status}`);
  const j = await r.json();
  assert.equal(j.ok, true, `${method} ${JSON.stringify(params)}: ${JSON.stringify(j)}`);
  return j;
}

let browser;
let T; // {team, alice:{id,token}, bob:{…}, chan:{id,name}, other:{id,name}}
const contexts = [];

const t00 = Date.now();
const mark = (what) => { if (process.env.PARLEY_E2E_TRACE) console.log(`trace ${Date.now() - t00} ms: ${what}`); };

async function openAs(user, hash) {
  mark(`open as ${user.name}`);
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  if (process.env.PARLEY_E2E_TRACE) {
    page.on('requestfinished', (r) => mark(`${user.name} done ${r.url().slice(URL_.length, URL_.length + 40)}`));
    page.on('websocket', (ws) => {
      mark(`${user.name} ws open`);
      ws.on('framereceived', (f) => mark(`${user.name} ws < ${String(f.payload).slice(0, 90)}`));
      ws.on('framesent', (f) => mark(`${user.name} ws > ${String(f.payload).slice(0, 90)}`));
      ws.on('close', () => mark(`${user.name} ws closed`));
    });
  }
  await page.goto(`${URL_}/?token=${encodeURIComponent(user.token)}#${hash}`);
  await page.waitForSelector('#conn[data-state=live]', { timeout: 15000 });
  mark(`${user.name} live`);
  return page;
}

const msgText = (page, text) => page.locator('#message-list .msg .text', { hasText: text });

test.before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  const team = (await api('admin.teams.create', ADMIN, { name: unique('web-') })).team;
  const mk = async (name) => {
    const r = await api('admin.users.create', ADMIN, { team_id: team.id, name });
    return { id: r.user.id, token: r.token, name };
  };
  const alice = await mk('alice');
  const bob = await mk('bob');
  const mkChan = async (name) => {
    const c = (await api('conversations.create', alice.token, { name })).channel;
    await api('conversations.invite', alice.token, { channel: c.id, users: bob.id });
    return { id: c.id, name: c.name };
  };
  const chan = await mkChan(unique('design-'));
  const other = await mkChan(unique('random-'));
  // more than one page of history (the client asks 50 at a time)
  for (let i = 1; i <= 60; i++) {
    await api('chat.postMessage', i % 2 ? alice.token : bob.token,
      { channel: chan.id, text: `backlog message ${i}` });
  }
  T = { team, alice, bob, chan, other };
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking'],
    timeout: 20000,
  });
});

test.after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  if (browser) await browser.close();
});

test('alice sends, bob sees it live, then in history after a reload', async (t) => {
  const alicePage = await openAs(T.alice, T.chan.name);
  const bobPage = await openAs(T.bob, T.chan.name);

  // the token left the address bar; the sidebar lists both channels
  assert.ok(!alicePage.url().includes('token='), alicePage.url());
  await bobPage.waitForSelector(`#channel-list .chan[data-id="${T.chan.id}"].active`);
  await bobPage.waitForSelector(`#channel-list .chan[data-id="${T.other.id}"]`);
  // newest page of history, newest at the bottom
  await msgText(bobPage, 'backlog message 60').waitFor();
  const last = await bobPage.locator('#message-list .msg .text').last().textContent();
  assert.equal(last, 'backlog message 60');

  // alice types and presses Enter; markup in the text stays text
  const text = `hello bob <b>bold?</b> <img src=x onerror="window.pwned=1"> & ${unique('')}`;
  await alicePage.fill('#composer-input', text);
  await alicePage.press('#composer-input', 'Enter');
  assert.equal(await alicePage.inputValue('#composer-input'), '');
  // pending then acknowledged on alice's page
  await alicePage.locator('#message-list .msg[data-state=sent] .text', { hasText: text }).waitFor({ timeout: 5000 });

  // bob's page shows it live
  const t0 = Date.now();
  await msgText(bobPage, text).waitFor({ timeout: 5000 });
  const liveMs = Date.now() - t0;
  assert.equal(await msgText(bobPage, text).textContent(), text);
  assert.equal(await bobPage.locator('#message-list img, #message-list b').count(), 0, 'markup was escaped');
  assert.equal(await bobPage.evaluate(() => window.pwned), undefined);
  const author = await bobPage.locator('#message-list .msg').filter({ hasText: text })
    .getAttribute('data-user');
  assert.equal(author, T.alice.id);

  // a message in the other channel: an unread badge on bob's sidebar
  await api('chat.postMessage', T.alice.token, { channel: T.other.id, text: 'over here' });
  await bobPage.locator(`#channel-list .chan[data-id="${T.other.id}"] .badge`, { hasText: '1' })
    .waitFor({ timeout: 5000 });

  await bobPage.screenshot({ path: path.join(OUT, 'web-e2e-live.png') });

  // bob reloads: signed in from localStorage, the message is in history
  await bobPage.reload();
  assert.ok(!bobPage.url().includes('token='));
  await bobPage.waitForSelector('#conn[data-state=live]', { timeout: 15000 });
  await msgText(bobPage, text).waitFor({ timeout: 5000 });
  const lastAfter = await bobPage.locator('#message-list .msg .text').last().textContent();
  assert.equal(lastAfter, text);
  await bobPage.screenshot({ path: path.join(OUT, 'web-e2e-reload.png') });

  // the badge survives the reload: it comes from the server's counts
  // (client.counts), not from events this page saw
  const otherItem = bobPage.locator(`#channel-list .chan[data-id="${T.other.id}"]`);
  await otherItem.locator('.badge', { hasText: '1' }).waitFor({ timeout: 5000 });
  // viewing the channel marks it read on the server (conversations.mark)
  await otherItem.click();
  let left = -1;
  for (let i = 0; i < 200 && left !== 0; i++) {
    const c = await api('client.counts', T.bob.token);
    left = c.channels.find((x) => x.id === T.other.id).unread_count;
    if (left !== 0) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(left, 0, 'viewing marked the channel read on the server');

  assert.deepEqual(alicePage.errors, []);
  assert.deepEqual(bobPage.errors, []);
  t.diagnostic(`live delivery seen in the browser after ${liveMs} ms`);
});

test('older history loads when scrolled to the top', async () => {
  const page = await openAs(T.bob, T.chan.name);
  await msgText(page, 'backlog message 60').waitFor();
  assert.equal(await page.locator('#message-list .msg .text', { hasText: /^backlog message 5$/ }).count(), 0);
  await page.locator('#messages').evaluate((b) => { b.scrollTop = 0; });
  // lazy loading (or the button): the first messages appear
  await page.locator('#message-list .msg .text', { hasText: /^backlog message 1$/ }).waitFor({ timeout: 5000 });
  await page.waitForSelector('#load-older[hidden]', { state: 'attached' });
  const first = await page.locator('#message-list .msg .text').first().textContent();
  assert.equal(first, 'backlog message 1');
  assert.deepEqual(page.errors, []);
});

test('a dropped socket reconnects and resumes what was missed', async () => {
  const page = await openAs(T.bob, T.chan.name);
  const cdp = await page.context().newCDPSession(page);
  // the network goes away: the socket is cut and new ones fail
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions',
    { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const missed = `sent while bob was away ${unique('')}`;
  await api('chat.postMessage', T.alice.token, { channel: T.chan.id, text: missed });
  await page.waitForSelector('#conn:not([data-state=live])', { timeout: 10000 });
  await cdp.send('Network.emulateNetworkConditions',
    { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.waitForSelector('#conn[data-state=live]', { timeout: 20000 });
  await msgText(page, missed).waitFor({ timeout: 5000 });
  assert.equal(await msgText(page, missed).count(), 1);
  assert.deepEqual(page.errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|WebSocket/.test(e)), []);
});

test('search finds a message, highlights it, and jumps to it in its channel', async () => {
  const word = unique('needle');
  await api('chat.postMessage', T.alice.token, { channel: T.other.id, text: `the ${word} is here` });
  // older than the newest page of the channel: the jump must load history
  for (let i = 0; i < 55; i++) {
    await api('chat.postMessage', T.bob.token, { channel: T.other.id, text: `filler ${i}` });
  }
  // indexing is asynchronous: wait until the API finds it
  for (let i = 0; ; i++) {
    const r = await api('search.messages', T.bob.token, { query: word });
    if (r.messages.total === 1) break;
    assert.ok(i < 100, 'indexed within 10 s');
    await new Promise((res) => setTimeout(res, 100));
  }
  const page = await openAs(T.bob, T.chan.name);
  await page.fill('#search-input', `${word} in:#${T.other.name}`);
  await page.press('#search-input', 'Enter');
  const hit = page.locator('#search-results .search-hit');
  await hit.first().waitFor({ timeout: 5000 });
  assert.equal(await hit.count(), 1);
  assert.equal(await hit.locator('mark').textContent(), word);
  assert.match(await page.textContent('#search-state'), /^1 result$/);
  await page.screenshot({ path: path.join(OUT, 'web-e2e-search.png') });
  await hit.locator('button').click();
  await page.waitForSelector(`#channel-list .chan[data-id="${T.other.id}"].active`);
  // the message (more than a page back) is loaded and scrolled into view
  const msg = page.locator('#message-list .msg .text', { hasText: word });
  await msg.waitFor({ timeout: 10000 });
  await page.waitForFunction((w) => {
    const box = document.getElementById('messages').getBoundingClientRect();
    const t = [...document.querySelectorAll('#message-list .msg .text')]
      .find((x) => x.textContent.includes(w));
    if (!t) return false;
    const r = t.getBoundingClientRect();
    return r.top >= box.top && r.bottom <= box.bottom;
  }, word, { timeout: 5000 });
  assert.ok(await page.locator('#search-panel').isHidden());
  // nothing found: said so
  await page.fill('#search-input', unique('nothing'));
  await page.press('#search-input', 'Enter');
  await page.waitForSelector('#search-state:text("No results")', { timeout: 5000 });
  assert.deepEqual(page.errors, []);
});

test('presence dots: the current state at once, changes live, the away toggle', async () => {
  const alicePage = await openAs(T.alice, T.chan.name);
  const bobPage = await openAs(T.bob, T.chan.name);
  const dot = (page, id) => `#people-list .person[data-id="${id}"] .presence-dot`;
  // bob's client subscribed at hello: alice, connected, is a green dot
  await bobPage.waitForSelector(`${dot(bobPage, T.alice.id)}[data-presence=active]`, { timeout: 15000 });
  await alicePage.waitForSelector(`${dot(alicePage, T.bob.id)}[data-presence=active]`, { timeout: 15000 });
  // alice sets herself away: her own toggle and bob's dot follow
  await alicePage.click('#away-toggle');
  await alicePage.waitForSelector('#away-toggle[aria-pressed=true]');
  await alicePage.waitForSelector('#me-presence[data-presence=away]', { timeout: 15000 });
  await bobPage.waitForSelector(`${dot(bobPage, T.alice.id)}[data-presence=away]`, { timeout: 15000 });
  await bobPage.screenshot({ path: path.join(OUT, 'web-e2e-presence.png') });
  // and back
  await alicePage.click('#away-toggle');
  await alicePage.waitForSelector('#away-toggle[aria-pressed=false]');
  await bobPage.waitForSelector(`${dot(bobPage, T.alice.id)}[data-presence=active]`, { timeout: 15000 });
  assert.deepEqual(alicePage.errors, []);
  assert.deepEqual(bobPage.errors, []);
});
