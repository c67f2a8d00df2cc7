"""test_devkafka.py - devkafka's native broker on the wire, with raw sockets.

What librdkafka never sends, a broken client might: every malformed request
closes that connection only; the broker stays ready, its data intact, and the
stack keeps delivering. Also: the version table, metadata, a batch with a
bad CRC refused with CORRUPT_MESSAGE (nothing appended), a good one appended
at the end offset, and OFFSET_OUT_OF_RANGE beyond the end.
"""

import socket
import struct
import urllib.request

from parley import Ws

API_PRODUCE, API_FETCH, API_LIST_OFFSETS, API_METADATA, API_VERSIONS = 0, 1, 2, 3, 18


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _crc32c_table()


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def kstr(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=5)
        self.corr = 0

    def send_raw(self, payload):
        self.s.sendall(struct.pack(">i", len(payload)) + payload)

    def request(self, key, ver, body):
        self.corr += 1
        self.send_raw(struct.pack(">hhi", key, ver, self.corr) + kstr("pytest") + body)
        return self.response()

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                raise EOFError("closed")
            out += chunk
        return out

    def response(self):
        size = struct.unpack(">i", self._read(4))[0]
        data = self._read(size)
        corr = struct.unpack(">i", data[:4])[0]
        assert corr == self.corr
        return Reader(data[4:])

    def closed(self):
        """True when the broker hung up (EOF) within the timeout"""
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        self.s.close()


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.o)
        self.o += struct.calcsize(fmt)
        return v[0]

    def str(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.b[self.o:self.o + n].decode()
        self.o += n
        return s


def brokers(stack):
    text = open(stack.brokers_file).read().strip()
    return [(h, int(p)) for h, p in (x.rsplit(":", 1) for x in text.split(","))]


def metadata(stack):
    """{'brokers': {id: port}, 'leaders': {(topic, part): id}}"""
    host, port = brokers(stack)[0]
    c = Conn(host, port)
    r = c.request(API_METADATA, 1, struct.pack(">i", -1))
    out = {"brokers": {}, "leaders": {}}
    for _ in range(r.take(">i")):
        bid = r.take(">i")
        r.str()
        out["brokers"][bid] = r.take(">i")
        r.str()
    r.take(">i")                            # controller
    for _ in range(r.take(">i")):
        assert r.take(">h") == 0
        name = r.str()
        r.take(">b")
        for _ in range(r.take(">i")):
            r.take(">h")
            idx = r.take(">i")
            out["leaders"][(name, idx)] = r.take(">i")
            for _ in range(2):
                for _ in range(r.take(">i")):
                    r.take(">i")
    c.close()
    return out


def leader_conn(stack, topic, part):
    md = metadata(stack)
    return Conn("127.0.0.1", md["brokers"][md["leaders"][(topic, part)]])


def record_batch(value, corrupt=False):
    """one record, no key, CreateTime 0, non-idempotent"""
    def varint(n):
        n = (n << 1) ^ (n >> 63)            # zigzag
        out = b""
        while True:
            if n < 0x80:
                return out + bytes([n])
            out += bytes([(n & 0x7F) | 0x80])
            n >>= 7
    rec_body = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(len(value)) + value + varint(0)
    rec = varint(len(rec_body)) + rec_body
    after_crc = struct.pack(">hiqqqhii", 0, 0, 0, 0, -1, -1, -1, 1) + rec
    crc = crc32c(after_crc) ^ (1 if corrupt else 0)
    head = struct.pack(">ib", 0, 2) + struct.pack(">I", crc)
    batch = head + after_crc
    return struct.pack(">qi", 0, len(batch)) + batch


def produce(conn, topic, part, records):
    body = kstr(None) + struct.pack(">hi", -1, 5000) + struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">i", 1) + struct.pack(">i", part) + struct.pack(">i", len(records)) + records
    r = conn.request(API_PRODUCE, 3, body)
    assert r.take(">i") == 1 and r.str() == topic and r.take(">i") == 1
    assert r.take(">i") == part
    return r.take(">h"), r.take(">q")


def end_offset(conn, topic, part):
    body = struct.pack(">i", -1) + struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">i", 1) + struct.pack(">iq", part, -1)
    r = conn.request(API_LIST_OFFSETS, 1, body)
    assert r.take(">i") == 1 and r.str() == topic and r.take(">i") == 1
    r.take(">i")
    assert r.take(">h") == 0
    r.take(">q")
    return r.take(">q")


def framed(payload):
    return struct.pack(">i", len(payload)) + payload


def ready(stack):
    try:
        with urllib.request.urlopen(stack.ops["devkafka"] + "/readyz", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def test_api_versions_table_and_unsupported_version(stack):
    host, port = brokers(stack)[0]
    c = Conn(host, port)
    r = c.request(API_VERSIONS, 0, b"")
    assert r.take(">h") == 0
    table = {}
    for _ in range(r.take(">i")):
        k, lo, hi = r.take(">h"), r.take(">h"), r.take(">h")
        table[k] = (lo, hi)
    assert table[API_PRODUCE][0] <= 3 <= table[API_PRODUCE][1]
    assert API_FETCH in table and API_METADATA in table
    # a version above what we speak: UNSUPPORTED_VERSION, answered at v0
    r = c.request(API_VERSIONS, 9, b"")
    assert r.take(">h") == 35
    c.close()


def test_metadata_lists_brokers_and_topics(stack):
    md = metadata(stack)
    assert len(md["brokers"]) == 3
    topics = {t for t, _ in md["leaders"]}
    assert {"parley.messages", "parley.events", "parley.presence"} <= topics


def test_bad_crc_refused_good_batch_appended(stack):
    c = leader_conn(stack, "parley.presence", 0)
    before = end_offset(c, "parley.presence", 0)
    err, base = produce(c, "parley.presence", 0, record_batch(b"x", corrupt=True))
    assert err == 2 and base == -1                  # CORRUPT_MESSAGE
    assert end_offset(c, "parley.presence", 0) == before
    err, base = produce(c, "parley.presence", 0, record_batch(b"y"))
    assert err == 0 and base >= before
    assert end_offset(c, "parley.presence", 0) == base + 1
    c.close()


def test_fetch_beyond_the_end_is_out_of_range(stack):
    c = leader_conn(stack, "parley.presence", 1)
    end = end_offset(c, "parley.presence", 1)
    body = struct.pack(">iiiib", -1, 100, 1, 1 << 20, 0) + struct.pack(">i", 1)
    body += kstr("parley.presence") + struct.pack(">i", 1) + struct.pack(">iqi", 1, end + 10, 1 << 20)
    r = c.request(API_FETCH, 4, body)
    r.take(">i")                                    # throttle
    assert r.take(">i") == 1 and r.str() == "parley.presence" and r.take(">i") == 1
    assert r.take(">i") == 1
    assert r.take(">h") == 1                        # OFFSET_OUT_OF_RANGE
    c.close()


def test_malformed_requests_close_only_that_connection(stack, team):
    host, port = brokers(stack)[0]
    bad = [
        struct.pack(">i", -5),                                  # negative size
        struct.pack(">i", 1 << 30),                             # too large
        framed(struct.pack(">hhh", 0, 3, 1)),                   # header cut short
        framed(struct.pack(">hhi", 99, 0, 1) + kstr("xy")),     # unknown api
        framed(struct.pack(">hhi", API_PRODUCE, 3, 1) + kstr("ab") + b"\x00\x00"),  # body cut
        framed(struct.pack(">hhi", API_FETCH, 4, 1) + kstr("ab") +
               struct.pack(">iiiib", -1, 100, 1, 100, 0) + struct.pack(">i", 1 << 28)),  # count
    ]
    for frame in bad:
        c = Conn(host, port)
        c.s.sendall(frame)
        assert c.closed(), frame
        c.close()
    assert ready(stack)
    # a good client on the same broker is still served
    c = Conn(host, port)
    r = c.request(API_VERSIONS, 0, b"")
    assert r.take(">h") == 0
    c.close()
    # and the stack still delivers through the broker
    ch = team.channel
    with Ws(stack.ws_url, team.token("alice")) as alice, \
            Ws(stack.ws_url, team.token("bob")) as bob:
        reply = alice.request({"id": 1, "type": "message", "channel": ch,
                               "text": "after garbage"})
        assert reply.get("ok") is True, reply
        ev = bob.wait_event(lambda e: e.get("type") == "message" and
                            e.get("text") == "after garbage")
        assert ev["seq"] == reply["seq"]
