"""Every nng endpoint between the daemons can be tcp:// (containers and
Kubernetes pods share no ipc directory): message-svc's RPC
(PARLEY_MS_RPC_URL / PARLEY_MESSAGE_URLS of the gateway and search-indexer),
presence-svc's push and RPC (PARLEY_PRESENCE_PUSH_URL and
PARLEY_PRESENCE_RPC_URL, read by presence-svc and by the gateway) and
search-indexer's RPC (PARLEY_SEARCH_RPC_URL / the gateway's
PARLEY_SEARCH_URLS). notify-svc serves no nng endpoint (it only consumes
Kafka), so it has no URL to set."""
import os
import socket

import conftest
import parley
from parley import Ws, wait_for


def free_ports(n):
    """n distinct ports nobody listens on right now: each stays bound until
    all are drawn (one free_port() after another may hand out the same
    port twice, and two daemons would then fight over it)"""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def test_rpc_and_presence_over_tcp(new_stack):
    ms, ps, pr, si = ("tcp://127.0.0.1:%d" % p for p in free_ports(4))
    env = dict(conftest.TEST_ENV, PARLEY_MS_RPC_URL=ms, PARLEY_MESSAGE_URLS=ms,
               PARLEY_PRESENCE_PUSH_URL=ps, PARLEY_PRESENCE_RPC_URL=pr,
               PARLEY_SEARCH_RPC_URL=si,
               PARLEY_SEARCH_URLS=si)
    st = new_stack(shards=1, gateways=1, extra_env=env)
    team = parley.provision(st)
    alice_id = team.uid("alice")
    word = parley.unique("tcpword")
    with Ws(st.ws_url, team.token("bob")) as bob, Ws(st.ws_url, team.token("alice")) as alice:
        # a send is an RPC to message-svc: over tcp
        r = alice.request({"type": "message", "channel": team.channel,
                           "text": "over tcp %s" % word})
        assert r.get("ok") is True, r
        bob.wait_event(lambda e: e.get("seq") == r["seq"] and "reply_to" not in e)
        # typing is pushed to presence-svc, which publishes user_typing: over tcp
        alice.send({"type": "typing", "channel": team.channel})
        bob.wait_event(lambda e: e.get("type") == "user_typing" and e.get("user") == alice_id)
        # users.getPresence is an RPC to presence-svc: over tcp
        api = parley.Api(st.http_url)
        wait_for(lambda: api.call("users.getPresence", team.token("bob"), user=alice_id)
                 .get("presence") == "active", 15, "alice active through presence-svc's RPC")
    # search.messages: gateway -> search-indexer -> message-svc (scope), over tcp
    api = parley.Api(st.http_url)
    wait_for(lambda: api.call("search.messages", team.token("bob"), query=word)
             ["messages"]["total"] == 1, 30, "the message found through search-indexer")
    # nothing listens on the default ipc endpoints
    assert not os.path.exists(os.path.join(st.run_dir, "presence.ipc"))
    assert not os.path.exists(os.path.join(st.run_dir, "presence-rpc.ipc"))
    assert not os.path.exists(os.path.join(st.run_dir, "message-0.ipc"))
    assert not os.path.exists(os.path.join(st.run_dir, "search.ipc"))
