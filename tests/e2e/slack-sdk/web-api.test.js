// web-api.test.js - Slack's official @slack/web-api WebClient against Parley,
// configured only with slackApiUrl and a token.  node --test
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { WebClient, ErrorCode, LogLevel } = require('@slack/web-api');
const { API_URL, TS_RE, provision, unique } = require('./common');

// no retries: a failure must show at once, not after the SDK's 30 minutes of
// retries; everything else is the SDK's default
function client(token) {
  return new WebClient(token, {
    slackApiUrl: API_URL,
    retryConfig: { retries: 0 },
    logLevel: LogLevel.ERROR,
    timeout: 20000,
  });
}

let T; // the provisioned team
let alice; let bob;

test.before(async () => {
  T = await provision();
  alice = client(T.users.alice.token);
  bob = client(T.users.bob.token);
});

test('auth.test and api.test', async () => {
  const a = await alice.auth.test();
  assert.equal(a.ok, true);
  assert.equal(a.user_id, T.users.alice.id);
  assert.equal(a.team_id, T.team.id);
  assert.equal(a.user, 'alice');
  const t = await alice.api.test({ foo: 'bar' });
  assert.equal(t.ok, true);
  assert.deepEqual(t.args, { foo: 'bar' });
});

test('chat.postMessage, chat.update, chat.delete', async () => {
  const p = await alice.chat.postMessage({ channel: T.channel, text: 'hello from the sdk' });
  assert.equal(p.ok, true);
  assert.equal(p.channel, T.channel);
  assert.match(p.ts, TS_RE);
  assert.equal(p.message.type, 'message');
  assert.equal(p.message.user, T.users.alice.id);
  assert.equal(p.message.text, 'hello from the sdk');
  assert.equal(p.message.ts, p.ts);

  const u = await alice.chat.update({ channel: T.channel, ts: p.ts, text: 'edited' });
  assert.equal(u.ok, true);
  assert.equal(u.channel, T.channel);
  assert.equal(u.ts, p.ts);
  assert.equal(u.text, 'edited');

  const h = await bob.conversations.history({ channel: T.channel, latest: p.ts, inclusive: true, limit: 1 });
  assert.equal(h.messages[0].ts, p.ts);
  assert.equal(h.messages[0].text, 'edited');

  const d = await alice.chat.delete({ channel: T.channel, ts: p.ts });
  assert.equal(d.ok, true);
  assert.equal(d.channel, T.channel);
  assert.equal(d.ts, p.ts);
  const h2 = await bob.conversations.history({ channel: T.channel });
  assert.ok(!h2.messages.some((m) => m.ts === p.ts), 'deleted message still in history');
});

test('errors surface as the SDK\'s platform errors', async () => {
  await assert.rejects(bob.chat.postMessage({ channel: 'C0NOSUCH1', text: 'x' }), (e) => {
    assert.equal(e.code, ErrorCode.PlatformError);
    assert.equal(e.data.ok, false);
    assert.equal(e.data.error, 'channel_not_found');
    return true;
  });
  const p = await alice.chat.postMessage({ channel: T.channel, text: 'not yours' });
  await assert.rejects(bob.chat.update({ channel: T.channel, ts: p.ts, text: 'mine now' }),
    (e) => e.code === ErrorCode.PlatformError && e.data.error === 'cant_update_message');
  await assert.rejects(client('bad-token').auth.test(),
    (e) => e.code === ErrorCode.PlatformError && e.data.error === 'invalid_auth');
});

test('conversations.history paginates with the SDK\'s cursor helper', async () => {
  const ch = (await alice.conversations.create({ name: unique('hist-') })).channel.id;
  const sent = [];
  for (let i = 0; i < 9; i++) {
    sent.push((await alice.chat.postMessage({ channel: ch, text: `m${i}` })).ts);
  }
  const first = await alice.conversations.history({ channel: ch, limit: 4 });
  assert.equal(first.ok, true);
  assert.equal(first.messages.length, 4);
  assert.equal(first.has_more, true);
  assert.equal(typeof first.response_metadata.next_cursor, 'string');
  assert.notEqual(first.response_metadata.next_cursor, '');
  const seen = [];
  for await (const page of alice.paginate('conversations.history', { channel: ch, limit: 4 })) {
    assert.ok(page.messages.length <= 4);
    seen.push(...page.messages.map((m) => m.ts));
  }
  assert.deepEqual(seen, [...sent].reverse());
});

test('conversations.replies', async () => {
  const root = await alice.chat.postMessage({ channel: T.channel, text: 'thread root' });
  const r1 = await bob.chat.postMessage({ channel: T.channel, text: 'r1', thread_ts: root.ts });
  const r2 = await alice.chat.postMessage({ channel: T.channel, text: 'r2', thread_ts: root.ts });
  assert.equal(r1.message.thread_ts, root.ts);
  const r = await bob.conversations.replies({ channel: T.channel, ts: root.ts });
  assert.equal(r.ok, true);
  assert.deepEqual(r.messages.map((m) => m.ts), [root.ts, r1.ts, r2.ts]);
  assert.equal(r.messages[0].reply_count, 2);
  assert.deepEqual(r.messages.map((m) => m.text), ['thread root', 'r1', 'r2']);
});

test('conversations.list, conversations.info, conversations.members', async () => {
  const l = await bob.conversations.list({ types: 'public_channel,private_channel' });
  assert.equal(l.ok, true);
  const mine = l.channels.find((c) => c.id === T.channel);
  assert.ok(mine, `channel ${T.channel} not in conversations.list`);
  assert.equal(mine.is_channel, true);
  assert.equal(mine.is_member, true);
  assert.equal(typeof mine.name, 'string');
  assert.equal(typeof mine.created, 'number');
  const all = [];
  for await (const page of bob.paginate('conversations.list', { limit: 1 })) {
    all.push(...page.channels.map((c) => c.id));
  }
  assert.ok(all.includes(T.channel));
  assert.equal(new Set(all).size, all.length, 'a channel repeated across pages');

  const i = await bob.conversations.info({ channel: T.channel });
  assert.equal(i.ok, true);
  assert.equal(i.channel.id, T.channel);
  assert.equal(i.channel.is_private, false);

  const m = await bob.conversations.members({ channel: T.channel });
  assert.equal(m.ok, true);
  assert.deepEqual([...m.members].sort(),
    [T.users.alice.id, T.users.bob.id, T.users.carol.id].sort());
});

test('reactions.add, reactions.get, reactions.remove', async () => {
  const p = await alice.chat.postMessage({ channel: T.channel, text: 'react' });
  const a = await bob.reactions.add({ channel: T.channel, timestamp: p.ts, name: 'thumbsup' });
  assert.equal(a.ok, true);
  await assert.rejects(bob.reactions.add({ channel: T.channel, timestamp: p.ts, name: 'thumbsup' }),
    (e) => e.code === ErrorCode.PlatformError && e.data.error === 'already_reacted');
  const g = await alice.reactions.get({ channel: T.channel, timestamp: p.ts });
  assert.equal(g.ok, true);
  assert.equal(g.type, 'message');
  assert.equal(g.message.ts, p.ts);
  assert.deepEqual(g.message.reactions, [{ name: 'thumbsup', users: [T.users.bob.id], count: 1 }]);
  const r = await bob.reactions.remove({ channel: T.channel, timestamp: p.ts, name: 'thumbsup' });
  assert.equal(r.ok, true);
  const g2 = await alice.reactions.get({ channel: T.channel, timestamp: p.ts });
  assert.ok(!g2.message.reactions || g2.message.reactions.length === 0);
  await assert.rejects(bob.reactions.remove({ channel: T.channel, timestamp: p.ts, name: 'thumbsup' }),
    (e) => e.code === ErrorCode.PlatformError && e.data.error === 'no_reaction');
});

test('users.list and users.info', async () => {
  const l = await alice.users.list({});
  assert.equal(l.ok, true);
  const ids = l.members.map((u) => u.id).sort();
  assert.deepEqual(ids, Object.values(T.users).map((u) => u.id).sort());
  for (const u of l.members) {
    assert.equal(u.team_id, T.team.id);
    assert.equal(typeof u.name, 'string');
    assert.equal(typeof u.deleted, 'boolean');
  }
  const i = await alice.users.info({ user: T.users.carol.id });
  assert.equal(i.ok, true);
  assert.equal(i.user.id, T.users.carol.id);
  assert.equal(i.user.name, 'carol');
  await assert.rejects(alice.users.info({ user: 'U0NOSUCH1' }),
    (e) => e.code === ErrorCode.PlatformError && e.data.error === 'user_not_found');
});

test('every chat.postMessage is its own message (300 posts, no client_msg_id)', async () => {
  // what a bot does: many posts, no client_msg_id. Each answer must be the
  // message just sent - never an earlier one of another request
  const ch = (await alice.conversations.create({ name: unique('many-') })).channel.id;
  const acks = [];
  for (let i = 0; i < 300; i++) {
    const p = await alice.chat.postMessage({ channel: ch, text: `n${i}` });
    assert.equal(p.channel, ch, `post ${i} answered for another channel: ${JSON.stringify(p)}`);
    assert.equal(p.message.text, `n${i}`, `post ${i} answered with another message: ${JSON.stringify(p)}`);
    acks.push(p.ts);
  }
  assert.equal(new Set(acks).size, acks.length);
  const seen = [];
  for await (const page of alice.paginate('conversations.history', { channel: ch, limit: 200 })) {
    seen.push(...page.messages.map((m) => m.ts));
  }
  assert.deepEqual(seen, [...acks].reverse());
});

test('users.getPresence and users.setPresence (manual away, durable)', async () => {
  // carol has never connected: away, not online
  const carol = client(T.users.carol.token);
  const me = await carol.users.getPresence();
  assert.equal(me.ok, true);
  assert.equal(me.presence, 'away');
  assert.equal(me.online, false);
  assert.equal(me.manual_away, false);
  assert.equal(me.connection_count, 0);

  assert.equal((await carol.users.setPresence({ presence: 'away' })).ok, true);
  const away = await carol.users.getPresence();
  assert.equal(away.presence, 'away');
  assert.equal(away.manual_away, true);
  // someone else sees only presence (Slack's shape)
  const seen = await bob.users.getPresence({ user: T.users.carol.id });
  assert.deepEqual(Object.keys(seen).filter((k) => k !== 'response_metadata').sort(),
    ['ok', 'presence']);
  assert.equal(seen.presence, 'away');

  assert.equal((await carol.users.setPresence({ presence: 'auto' })).ok, true);
  assert.equal((await carol.users.getPresence()).manual_away, false);
  // users.setActive is gone from this SDK's method list; apiCall reaches it
  assert.equal((await carol.apiCall('users.setActive')).ok, true);

  await assert.rejects(carol.users.setPresence({ presence: 'busy' }), (e) => {
    assert.equal(e.code, ErrorCode.PlatformError);
    assert.equal(e.data.error, 'invalid_presence');
    return true;
  });
});

// notify-svc (issue #13): the SDK's conversations.mark, the unread fields of
// conversations.info and dnd.* as Slack shapes them
test('conversations.mark, conversations.info unread fields, dnd.*', async () => {
  const p1 = await alice.chat.postMessage({ channel: T.channel, text: 'unread one' });
  const p2 = await alice.chat.postMessage({ channel: T.channel, text: `unread <@${T.users.bob.id}>` });
  // the counts follow the log: wait until both are counted
  let info;
  for (let i = 0; i < 300; i++) {
    info = await bob.conversations.info({ channel: T.channel });
    if (info.channel.unread_count >= 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(typeof info.channel.last_read, 'string');
  assert.ok(info.channel.unread_count >= 2, JSON.stringify(info.channel));
  assert.equal(info.channel.unread_count_display, info.channel.unread_count);
  const m = await bob.conversations.mark({ channel: T.channel, ts: p2.ts });
  assert.equal(m.ok, true);
  info = await bob.conversations.info({ channel: T.channel });
  assert.equal(info.channel.unread_count, 0);
  assert.equal(info.channel.last_read, p2.ts);
  await bob.conversations.mark({ channel: T.channel, ts: p1.ts });
  info = await bob.conversations.info({ channel: T.channel });
  assert.equal(info.channel.unread_count, 1);
  await assert.rejects(bob.conversations.mark({ channel: T.channel, ts: 'yesterday' }),
    (e) => e.code === ErrorCode.PlatformError && e.data.error === 'invalid_timestamp');

  const s = await bob.dnd.setSnooze({ num_minutes: 10 });
  assert.equal(s.snooze_enabled, true);
  assert.ok(s.snooze_remaining > 0 && s.snooze_remaining <= 600);
  const d = await alice.dnd.info({ user: T.users.bob.id });
  assert.equal(d.snooze_enabled, true);
  assert.equal(d.snooze_endtime, s.snooze_endtime);
  const e = await bob.dnd.endSnooze();
  assert.equal(e.snooze_enabled, false);
  assert.equal((await bob.dnd.info()).snooze_enabled, false);
});
