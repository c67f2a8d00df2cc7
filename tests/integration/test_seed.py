"""make run's demo seed: creates acme/alice/bob/carol/#general/#random once,
reuses them on the next run, and refuses (instead of duplicating or wiping)
when seed.json is lost but the directory has the team."""
import json
import os

import pytest

import parley
import stack as stackmod


def test_seed_is_idempotent(stack, tmp_path):
    path = str(tmp_path / "seed.json")
    s1 = stackmod.seed(stack.http_url, stack.admin_token, path)
    assert set(s1["users"]) == {"alice", "bob", "carol"}
    assert set(s1["channels"]) == {"general", "random"}
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"

    api = parley.Api(stack.http_url)
    for name, u in s1["users"].items():
        r = api.call("auth.test", u["token"])
        assert r["user_id"] == u["id"] and r["team_id"] == s1["team"]["id"], r
    ids = {u["id"] for u in s1["users"].values()}
    for ch in s1["channels"].values():
        r = api.call("conversations.members", s1["users"]["carol"]["token"],
                     channel=ch["id"])
        assert ids <= set(r["members"]), r

    s2 = stackmod.seed(stack.http_url, stack.admin_token, path)
    assert s2 == s1
    with open(path) as f:
        assert json.load(f) == s1

    # seed.json lost while the directory keeps acme: a clear error, no second team
    os.unlink(path)
    with pytest.raises(stackmod.SeedError, match="PARLEY_RESET"):
        stackmod.seed(stack.http_url, stack.admin_token, path)
