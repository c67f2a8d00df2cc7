// common.js - what the SDK tests share: the stack they run against (env vars
// set by ../run.sh) and a provisioning helper that uses only the Web API.
//
//   PARLEY_URL          http://127.0.0.1:PORT  (the gateway)
//   PARLEY_ADMIN_TOKEN  the admin token (admin.teams.create / admin.users.create)
//
// The SDK clients are configured ONLY with slackApiUrl = PARLEY_URL + '/api/'
// and a token, as the issue asks.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const PARLEY_URL = (process.env.PARLEY_URL || '').replace(/\/+$/, '');
const ADMIN = process.env.PARLEY_ADMIN_TOKEN || '';
if (!PARLEY_URL || !ADMIN) {
  throw new Error('PARLEY_URL and PARLEY_ADMIN_TOKEN must be set (tests/e2e/run.sh sets them)');
}
const API_URL = `${PARLEY_URL}/api/`;

const TS_RE = /^\d{10}\.\d{6}$/;

function unique(prefix) {
  return prefix + crypto.randomBytes(4).toString('hex');
}

// raw Web API call (form POST), for provisioning only - the tests use the SDK
async function raw(method, token, params = {}) {
  const body = new URLSearchParams(params).toString();
  const r = await fetch(API_URL + method, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`,
      'Content-Type': 'application/x-www-form-urlencoded' },
    body,
    signal: AbortSignal.timeout(15000),
  });
  assert.equal(r.status, 200, `${method}: HTTP ${r.status}`);
  const j = await r.json();
  assert.equal(j.ok, true, `${method} ${JSON.stringify(params)}: ${JSON.stringify(j)}`);
  return j;
}

// a team with users (name -> {id, token}) and a channel created by the first,
// with everyone a member
async function provision(users = ['alice', 'bob', 'carol']) {
  const t = (await raw('admin.teams.create', ADMIN, { name: unique('sdk-') })).team;
  const made = {};
  for (const name of users) {
    const r = await raw('admin.users.create', ADMIN, { team_id: t.id, name });
    made[name] = { id: r.user.id, token: r.token, name };
  }
  const first = made[users[0]].token;
  const ch = (await raw('conversations.create', first, { name: unique('sdk-') })).channel.id;
  const others = users.slice(1).map((n) => made[n].id);
  if (others.length) {
    await raw('conversations.invite', first, { channel: ch, users: others.join(',') });
  }
  return { team: t, users: made, channel: ch };
}

// resolve with the first value of pred() that is truthy, polling every 20 ms
async function waitFor(pred, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// a promise that rejects after ms (for racing an SDK promise)
function within(promise, ms, what) {
  let timer;
  const t = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

module.exports = { API_URL, PARLEY_URL, ADMIN, TS_RE, unique, raw, provision, waitFor, within };
