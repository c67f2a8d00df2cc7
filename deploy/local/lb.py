"""lb.py - the local multi-instance mode: Debian's haproxy in front of the
gateway processes, each on its own port (`make run PARLEY_LB=haproxy`).

haproxy runs deploy/haproxy/haproxy.cfg, the file docker-compose uses; only
its environment differs (PARLEY_LB_BIND, PARLEY_LB_OPS_BIND,
PARLEY_LB_GATEWAY_1/2). The stack's http_url then points at haproxy.
"""

import os
import shutil

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
GATEWAYS = 2        # the config names two servers


def config_path(repo):
    return os.path.join(repo, "deploy", "haproxy", "haproxy.cfg")


# the make-run port plan in this mode: haproxy takes the gateway's 8080, the
# gateways 8081 and 8082, haproxy's /metrics and /stats 8404
FIXED = {"haproxy": 8080, "haproxy-ops": 8404}

# haproxy connects to the gateways from this address and sends a PROXY v2
# header; the gateways trust it (and only it) to, as in compose. Everything
# else on 127.0.0.1 (tools, tests, the stack's readiness checks) reaches
# them directly without a header.
SOURCE = "127.0.0.2"
GATEWAY_ENV = {"PARLEY_TRUSTED_PROXIES": SOURCE, "PARLEY_PROXY_PROTOCOL": "1"}


def gateway_port(stack, k):
    """where gateway k listens in this mode (0 = a free port)"""
    return FIXED["haproxy"] + 1 + k if stack.fixed_ports else 0


def start(stack, gateway_ports, stack_mod):
    """start haproxy in front of gateway_ports; returns its client port once
    it answers /readyz through a ready backend"""
    if len(gateway_ports) != GATEWAYS:
        raise stack_mod.StackError("PARLEY_LB=haproxy runs exactly %d gateways (got %d)" % (
            GATEWAYS, len(gateway_ports)))
    if not os.access(HAPROXY, os.X_OK):
        raise stack_mod.StackError("haproxy is not installed (deploy/packages.txt; make deps)")

    def attempt(port):
        ops = FIXED["haproxy-ops"] if stack.fixed_ports else stack_mod.free_port()
        env = stack._base_env()
        env.update({
            "PARLEY_LB_BIND": "127.0.0.1:%d" % port,
            "PARLEY_LB_OPS_BIND": "127.0.0.1:%d" % ops,
            "PARLEY_LB_SOURCE": SOURCE,
        })
        for k, p in enumerate(gateway_ports):
            env["PARLEY_LB_GATEWAY_%d" % (k + 1)] = "127.0.0.1:%d" % p
        c = stack_mod.Child("haproxy", [HAPROXY, "-db", "-f", config_path(stack.repo)],
                            env, stack)
        c.start()
        stack.children.append(c)
        c.ops_url = "http://127.0.0.1:%d" % port
        try:
            # ready = haproxy answers and passes /readyz to a gateway
            c.wait_ready(stack.ready_timeout)
        except stack_mod.StackError:
            c.signal(15)
            c.reap(5)
            c.forget()
            stack.children.remove(c)
            raise
        stack.ops["haproxy"] = "http://127.0.0.1:%d" % ops
        return port
    stack_mod.FIXED.setdefault("haproxy", FIXED["haproxy"])
    return stack._retry_port("haproxy", attempt)
