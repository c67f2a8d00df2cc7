"""message-svc robustness (issue #4): a Redis flush costs nothing but the
channel's epoch. Real stack (stack fixture)."""
import redis

import parley


def test_redis_flush_keeps_messages_and_changes_epoch(stack, api, team):
    a = team.token("alice")
    before = [api.call("chat.postMessage", a, channel=team.channel, text="pre %d" % i)
              for i in range(5)]
    ep0 = api.call("conversations.info", a, channel=team.channel)["channel"]["epoch"]
    assert ep0
    redis.Redis(host="127.0.0.1", port=stack.redis_port).flushall()
    after = [api.call("chat.postMessage", a, channel=team.channel, text="post %d" % i)
             for i in range(5)]
    seqs = [m["message"]["seq"] for m in before + after]
    assert seqs == list(range(seqs[0], seqs[0] + 10))      # no seq reused or skipped
    ep1 = parley.wait_for(
        lambda: (lambda e: e if e != ep0 else None)(
            api.call("conversations.info", a, channel=team.channel)["channel"]["epoch"]),
        what="a new epoch after FLUSHALL")
    assert ep1 != ep0
    h = api.call("conversations.history", a, channel=team.channel, limit=100)
    got = {m["ts"] for m in h["messages"]}
    assert all(m["ts"] in got for m in before + after)
    parley.find_message_row(stack, team.channel, seqs[-1])
