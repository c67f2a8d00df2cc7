#!/usr/bin/env python3
"""seeds.py - write the hand-made seed inputs of tests/fuzz/corpus/<name>/
(seed-*). Crash inputs (crash-*) are added by hand, one per bug found, and
never rewritten here. Run from the repository root: tests/fuzz/seeds.py"""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- protobuf, by hand (varint, length-delimited) ----
def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def f_int(no, v):
    return varint(no << 3) + varint(v)


def f_bytes(no, v):
    if isinstance(v, str):
        v = v.encode()
    return varint(no << 3 | 2) + varint(len(v)) + v


def message(channel="C1", seq=5, ts="1700000000.000100", user="U2", text="hi", **kw):
    m = f_bytes(1, channel) + f_bytes(2, "T1") + f_int(3, seq) + f_bytes(4, ts)
    m += f_bytes(5, user) + f_bytes(6, text) + f_int(12, 1)
    for no, v in kw.items():
        m += f_bytes(int(no[1:]), v) if isinstance(v, str) else f_int(int(no[1:]), v)
    return m


def envelope(typ, body_no, body, team="T1"):
    return f_int(1, typ) + f_int(2, 1) + f_bytes(3, "k1") + f_int(4, 1700000000000000) + \
        f_bytes(5, team) + f_bytes(body_no, body)


def rtm():
    for i, f in enumerate([
        '{"id":1,"type":"message","channel":"C1","text":"hello"}',
        '{"id":2,"type":"message","channel":"C1","text":"reply","thread_ts":"1700000000.000100","client_msg_id":"abc"}',
        '{"id":3,"type":"ping"}',
        '{"type":"typing","channel":"C2"}',
        '{"id":4,"type":"presence_sub","ids":["U1","U2","U3"]}',
        '{"id":5,"type":"resume","last_seq":{"C1":3,"C2":0,"G3":7},"epoch":{"C1":1}}',
        '{"id":6,"type":"nope"}',
        '{"id":7,"type":"message","channel":"C9","text":"x"}',
        '[1,2,3]',
        '{"id":-1,"type":"message","channel":"C1","text":""}',
    ]):
        put("rtm_frame", "%02d" % i, f)


def api_params():
    put("api_params", "form", b"\x00token=xoxp-1&channel=C1&text=hello+world%21&ts=1.2")
    put("api_params", "form-repeat", b"\x00a=1&a=2&b&=c&%zz=%4&d=%41%42")
    put("api_params", "json", b'\x01{"channel":"C1","text":"hi","limit":10,"ok":true,"o":{"a":[1]},"n":null}')
    put("api_params", "query", b"\x02token=abc&cursor=eyJDMSI6M30&timeout=5&x=%00y")


def token():
    put("token", "bearer", "\x00Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJVMSJ9.c2ln")
    put("token", "claims-user", '\x01{"sub":"U1","tid":"T1","iss":"parley","aud":"parley","exp":4102444800}')
    put("token", "claims-ticket", '\x01{"sub":"U1","tid":"T1","jti":"j1","iss":"parley","aud":"parley-ws","exp":4102444800,"uexp":0}')
    put("token", "claims-expired", '\x01{"sub":"U1","tid":"T1","iss":"parley","aud":"parley","exp":1}')
    put("token", "origin", "\x02https://*.example.com, http://localhost:3000\nhttps://a.example.com\nexample.com")


def envelope_seeds():
    put("envelope", "created", envelope(1, 10, message()))
    put("envelope", "changed", envelope(2, 10, message(f9="message_changed", f10="1700000000.000100", f14="1700000001.000000", f15="old")))
    put("envelope", "deleted", envelope(3, 10, message(f10="1700000000.000100")))
    put("envelope", "reaction", envelope(4, 10, message(f10="1700000000.000100", f11="thumbsup")))
    put("envelope", "join", envelope(6, 10, message(f9="channel_join")))
    put("envelope", "new-channel", envelope(1, 10, message(channel="C77")))
    chan = f_bytes(1, "C5") + f_bytes(2, "T1") + f_bytes(3, "public") + f_bytes(4, "general")
    put("envelope", "channel-created", envelope(20, 11, chan))
    memb = f_bytes(1, "C1") + f_bytes(2, "U1")
    put("envelope", "member-joined", envelope(23, 12, memb))
    put("envelope", "member-left", envelope(24, 12, memb))
    user = f_bytes(1, "U2") + f_bytes(2, "T1") + f_bytes(3, "bob")
    put("envelope", "user-changed", envelope(25, 13, user))
    pres = f_bytes(1, "U2") + f_bytes(2, "away")
    put("envelope", "presence", envelope(40, 14, pres))
    put("envelope", "typing", envelope(41, 14, f_bytes(1, "U2") + f_bytes(3, "C1")))


def request():
    caller = f_bytes(1, "U1") + f_bytes(2, "T1") + f_bytes(4, "S1")

    def req(method, params, admin=False):
        r = f_bytes(1, method) + f_bytes(2, caller + (f_int(3, 1) if admin else b""))
        for k, v in params.items():
            r += f_bytes(4, f_bytes(1, k) + f_bytes(2, v))
        return r + f_int(5, 1700000000000000) + f_bytes(6, "web")
    put("request", "post", req("chat.postMessage", {"channel": "C1", "text": "hi"}))
    put("request", "history", req("conversations.history", {"channel": "C1", "limit": "10"}))
    put("request", "list", req("conversations.list", {"cursor": ""}))
    put("request", "replay", req("channel.replay", {"channel": "C1", "after_seq": "3"}))
    put("request", "admin", req("admin.users.create", {"name": "x"}, admin=True))
    put("request", "unknown", req("no.such", {}))


def reply():
    def chan(cid, kind="public", epoch=1, archived=False):
        c = f_bytes(1, cid) + f_bytes(2, "T1") + f_bytes(3, kind) + f_bytes(4, "n-" + cid) + \
            f_int(5, 7) + f_int(10, epoch)
        return c + (f_int(6, 1) if archived else b"")
    user = f_bytes(1, "U9") + f_bytes(2, "T1") + f_bytes(3, "nine")
    team = f_bytes(1, "T1") + f_bytes(2, "fuzz") + f_bytes(3, "fuzz")
    chans = [chan("C1"), chan("C2", "private", 3), chan("D7", "dm"), chan("G8", "group"),
             chan("C1"), chan("C5", archived=True), chan("C" + "x" * 20), chan("")]
    boot = f_bytes(1, user) + f_bytes(2, team) + b"".join(f_bytes(3, c) for c in chans)
    put("reply", "boot", f_int(1, 1) + f_bytes(6, boot))
    put("reply", "boot-empty", f_int(1, 1) + f_bytes(6, b""))
    put("reply", "error", f_bytes(2, "not_authed"))
    msg = message()
    put("reply", "message", f_int(1, 1) + f_bytes(4, msg) + f_bytes(3, '{"channel":"C1"}'))
    put("reply", "replay", f_int(1, 1) + f_bytes(5, envelope(1, 10, msg)) + f_int(8, 1))


# ---- Kafka requests (devkafka), by hand ----
def k_str(s):
    if s is None:
        return struct.pack(">h", -1)
    s = s.encode() if isinstance(s, str) else s
    return struct.pack(">h", len(s)) + s


def k_hdr(key, ver, corr=1):
    return struct.pack(">hhi", key, ver, corr) + k_str("fuzz")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def zz(n):
    return varint((n << 1) ^ (n >> 63))


def record_batch(values, pid=-1, seq=-1):
    recs = b""
    for i, v in enumerate(values):
        body = b"\x00" + zz(0) + zz(i) + zz(-1) + zz(len(v)) + v + zz(0)
        recs += zz(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, 1700000000000, 1700000000000,
                            pid, 0, seq, len(values)) + recs
    crc = crc32c(after_crc)
    rest = struct.pack(">ib", 0, 2) + struct.pack(">I", crc) + after_crc
    return struct.pack(">qi", 0, len(rest)) + rest


def devkafka():
    put("devkafka", "apiversions-v3", k_hdr(18, 3) + b"\x05fuzz\x041.0\x00")
    put("devkafka", "apiversions-v0", k_hdr(18, 0))
    put("devkafka", "metadata-v1", k_hdr(3, 1) + struct.pack(">i", 1) + k_str("parley.messages"))
    put("devkafka", "metadata-all", k_hdr(3, 4) + struct.pack(">i", -1) + b"\x01")
    batch = record_batch([b"hello", b"world"])
    prod = k_hdr(0, 3) + k_str(None) + struct.pack(">hi", -1, 5000) + struct.pack(">i", 1) + \
        k_str("parley.messages") + struct.pack(">i", 1) + struct.pack(">ii", 0, len(batch)) + batch
    put("devkafka", "produce-v3", prod)
    ibatch = record_batch([b"x"], pid=1, seq=0)
    prod7 = k_hdr(0, 7) + k_str(None) + struct.pack(">hi", -1, 5000) + struct.pack(">i", 1) + \
        k_str("parley.events") + struct.pack(">i", 1) + struct.pack(">ii", 1, len(ibatch)) + ibatch
    put("devkafka", "produce-v7-idempotent", prod7)
    fetch = k_hdr(1, 4) + struct.pack(">iiiib", -1, 0, 1, 1 << 20, 0) + struct.pack(">i", 1) + \
        k_str("parley.messages") + struct.pack(">i", 2) + struct.pack(">iqi", 0, 0, 1 << 20) + \
        struct.pack(">iqi", 1, 5, 1024)
    put("devkafka", "fetch-v4", fetch)
    lo = k_hdr(2, 1) + struct.pack(">i", -1) + struct.pack(">i", 1) + k_str("parley.messages") + \
        struct.pack(">i", 1) + struct.pack(">iq", 0, -1)
    put("devkafka", "listoffsets-v1", lo)
    put("devkafka", "findcoordinator-v1", k_hdr(10, 1) + k_str("group") + b"\x00")
    put("devkafka", "initproducerid-v1", k_hdr(22, 1) + k_str(None) + struct.pack(">ih", 60000, -1) + b"\x00"[:0])


def search_query():
    for i, q in enumerate([
        "hello world", '"a phrase" -not -"no phrase"', "in:#general in:C1 from:@alice from:me",
        "in:@bob to:me has:link has::thumbsup: is:thread",
        "before:2026-01-02 after:2025 on:2026-03 during:2026-03-04 word",
        "has:wings before:soon", '"unbalanced quote runs', "caf\u00e9 \u65e5\u672c",
    ]):
        put("search_query", "%02d" % i, q)


def poll_args():
    put("poll_args", "poll-last-seq", b"\x00timeout=5&last_seq=%7B%22C1%22%3A3%7D")
    put("poll_args", "poll-cursor", b"\x00cursor=eyJDMSI6M30&timeout=0.5")
    put("poll_args", "poll-bad", b"\x00timeout=-1&cursor=!!!")
    put("poll_args", "resume", b'\x01{"last_seq":{"C1":3,"C2":1e300,"G3":-4,"C9":1},"epoch":{"C1":4294967295}}')
    put("poll_args", "resume-empty", b'\x01{"last_seq":{}}')


if __name__ == "__main__":
    rtm()
    api_params()
    token()
    envelope_seeds()
    request()
    reply()
    devkafka()
    poll_args()
    search_query()
