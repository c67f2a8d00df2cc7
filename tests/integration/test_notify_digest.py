"""notify-svc email digests (issue #13, part 3) against a real SMTP server
(aiosmtpd): unread after the delay -> one digest, grouped by channel, text
and HTML; read first -> none; at most one per interval; nothing about a
channel the user left; no address -> none."""

import email
import email.policy
import socket
import threading

import pytest
from aiosmtpd.controller import Controller

import conftest
import parley
from parley import wait_for

DELAY_S = 2


class Mailbox:
    def __init__(self):
        self.lock = threading.Lock()
        self.mails = []             # (rcpt list, parsed message)

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.mails.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def to(self, addr):
        with self.lock:
            return [m for r, m in self.mails if addr in r]

    def wait(self, addr, n=1):
        wait_for(lambda: len(self.to(addr)) >= n, 60, "%d mail(s) to %s" % (n, addr))
        return self.to(addr)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture(scope="module")
def env():
    box = Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=free_port())
    ctl.start()
    st = conftest.start_stack(prefix="parley-it-mail-", gateways=1, extra_env=dict(
        conftest.TEST_ENV, PARLEY_SMTP_URL="smtp://127.0.0.1:%d" % ctl.port,
        PARLEY_DIGEST_DELAY_S=str(DELAY_S), PARLEY_DIGEST_INTERVAL_S="3600",
        PARLEY_DIGEST_SCAN_MS="100", PARLEY_PUSH_DELAY_MS="100",
        PARLEY_DIGEST_FROM="digests@parley.test"))
    yield st, box
    conftest.stop_stack(st)
    ctl.stop()


def team_with_mail(st, api, names=("alice", "bob", "carol", "dave")):
    admin = st.admin_token
    t = api.call("admin.teams.create", admin, name=parley.unique("team-"))["team"]
    users = {}
    for n in names:
        addr = "%s.%s@example.org" % (n, t["id"].lower())
        r = api.call("admin.users.create", admin, team_id=t["id"], name=n, email=addr)
        users[n] = {"id": r["user"]["id"], "token": r["token"], "email": addr}
    ch = api.call("conversations.create", users["alice"]["token"],
                  name=parley.unique("room-"))["channel"]
    api.call("conversations.invite", users["alice"]["token"], channel=ch["id"],
             users=",".join(users[n]["id"] for n in names[1:]))
    return t, users, ch


def post(api, tok, ch, text):
    return api.call("chat.postMessage", tok, channel=ch, text=text)


def parts(msg):
    text = html = None
    for p in msg.walk():
        if p.get_content_type() == "text/plain":
            text = p.get_content()
        elif p.get_content_type() == "text/html":
            html = p.get_content()
    return text, html


def test_unread_digest_grouped_read_first_none_once_per_interval(env):
    st, box = env
    api = parley.Api(st.http_url)
    t, u, ch = team_with_mail(st, api)
    a = u["alice"]["token"]
    bob, carol, dave = u["bob"], u["carol"], u["dave"]
    post(api, a, ch["id"], "<@%s> first <b>bold</b> & more" % bob["id"])
    post(api, a, ch["id"], "<@%s> second" % bob["id"])
    dm = api.call("conversations.open", a, users=bob["id"])["channel"]["id"]
    post(api, a, dm, "a direct one")
    # carol reads hers at once: no digest for her
    r = post(api, a, ch["id"], "<@%s> read this now" % carol["id"])
    api.call("conversations.mark", carol["token"], channel=ch["id"], ts=r["ts"])
    mails = box.wait(bob["email"])
    assert len(mails) == 1
    m = mails[0]
    assert m["Message-ID"].startswith("<digest.%s." % bob["id"])
    assert m["From"] == "Parley <digests@parley.test>"
    assert "3 unread messages" in m["Subject"]
    text, html = parts(m)
    assert "#%s" % ch["name"] in text and "Direct messages" in text
    assert text.index("#%s" % ch["name"]) < text.index("second") or \
        text.index("Direct messages") < text.index("a direct one")
    assert "alice: <@%s> first <b>bold</b> & more" % bob["id"] in text
    assert "alice: a direct one" in text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html and "<b>bold</b>" not in html
    assert "<h3>#%s</h3>" % ch["name"] in html and "<h3>Direct messages</h3>" in html
    # bob is mentioned again: within the interval there is no second digest.
    # dave's digest, due after it, is the marker that travels the same path
    post(api, a, ch["id"], "<@%s> third" % bob["id"])
    post(api, a, ch["id"], "<@%s> yours" % dave["id"])
    box.wait(dave["email"])
    assert len(box.to(bob["email"])) == 1
    assert box.to(carol["email"]) == []


def test_left_channel_and_no_address_get_nothing(env):
    st, box = env
    api = parley.Api(st.http_url)
    t, u, ch = team_with_mail(st, api)
    a = u["alice"]["token"]
    carol, dave = u["carol"], u["dave"]
    post(api, a, ch["id"], "<@%s> before leaving" % carol["id"])
    api.call("conversations.leave", carol["token"], channel=ch["id"])
    # a user without an address
    r = api.call("admin.users.create", st.admin_token, team_id=t["id"], name="noaddr")
    api.call("conversations.invite", a, channel=ch["id"], users=r["user"]["id"])
    post(api, a, ch["id"], "<@%s> no mail for you" % r["user"]["id"])
    post(api, a, ch["id"], "<@%s> marker" % dave["id"])
    box.wait(dave["email"])
    assert box.to(carol["email"]) == []
