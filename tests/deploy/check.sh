#!/usr/bin/env bash
# check.sh - validate every deploy/ file offline (part of `make test`):
# docker-compose config, the Dockerfile (shellcheck of its RUN lines and the
# rules below), the image's scripts, Prometheus config/rules/unit tests,
# runbook links, the Grafana dashboard's PromQL, haproxy's config, the
# Kubernetes manifests (kubectl kustomize + the Kubernetes schemas) and
# yamllint. One "ok"/"not ok" line per check, then "N passed, N failed".
#
# Dockerfile rules (Debian has no hadolint): every RUN line is clean
# under ShellCheck as POSIX sh; every FROM is debian:bookworm-slim; the final stage
# sets a numeric non-root USER and a HEALTHCHECK; apt-get install uses
# --no-install-recommends and the lists are removed in the same RUN; no
# ENV/ARG names a secret (SECRET, TOKEN, PASSWORD, DSN).
#
#   PARLEY_KUBECTL_V2=/path/to/kubectl   also render with that kubectl (e.g. the
#        one from Debian's kubernetes-client, kustomize v2) and compare
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# the whole run is bounded (the checks below are shell functions, which
# timeout(1) cannot run one by one)
if [ -z "${PARLEY_CHECK_TIMED:-}" ]; then
	PARLEY_CHECK_TIMED=1 exec timeout --kill-after=10 "${PARLEY_CHECK_TIMEOUT:-300}" bash "$0" "$@"
fi
export LC_ALL=C
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check NAME CMD... - one check; its output is shown only when it fails
check() {
	local name=$1; shift
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" = 0 ]; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		echo "not ok - $name (exit $rc)"
		printf '%s\n' "$out" | tail -n 30 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

# ---- docker-compose
check "docker-compose config -q" \
	docker-compose --env-file deploy/compose/.env.example \
	-f deploy/compose/docker-compose.yml config -q

# ---- Dockerfile
dockerfile_runs() {
	# each RUN instruction, continuations joined, as one sh script per line
	awk '
		/^[[:space:]]*#/ { next }
		cont { line = line " " $0; if ($0 !~ /\\$/) { print line; cont = 0 } ; next }
		/^RUN / { line = $0; if ($0 ~ /\\$/) { cont = 1 } else { print line } }
	' deploy/docker/Dockerfile | sed -e 's/^RUN //' -e 's/\\$//' -e 's/ \\ / /g'
}
dockerfile_shellcheck() {
	local n=0
	while IFS= read -r run; do
		n=$((n + 1))
		printf '#!/bin/sh\n%s\n' "$run" >"$tmp/run$n.sh"
		shellcheck -s sh "$tmp/run$n.sh" || return 1
	done < <(dockerfile_runs)
	[ "$n" -gt 0 ] || { echo "no RUN lines found"; return 1; }
}
dockerfile_rules() {
	local f=deploy/docker/Dockerfile bad=0
	grep -E '^FROM ' "$f" | grep -vE '^FROM debian:bookworm-slim( AS [a-z]+)?$' && {
		echo "every FROM must be debian:bookworm-slim"; bad=1; }
	# the last stage: from the last FROM to the end
	local last
	last=$(awk '/^FROM /{buf=""} {buf=buf"\n"$0} END{print buf}' "$f")
	grep -qE '^USER [1-9][0-9]*(:[1-9][0-9]*)?$' <<<"$last" || {
		echo "the final stage needs a numeric non-root USER"; bad=1; }
	grep -q '^HEALTHCHECK ' <<<"$last" || { echo "the final stage needs a HEALTHCHECK"; bad=1; }
	while IFS= read -r run; do
		case "$run" in *"apt-get install"*)
			case "$run" in *--no-install-recommends*) ;; *)
				echo "apt-get install without --no-install-recommends: $run"; bad=1 ;; esac
			case "$run" in *"rm -rf /var/lib/apt/lists"*) ;; *)
				echo "apt lists not removed in the same RUN: $run"; bad=1 ;; esac ;;
		esac
	done < <(dockerfile_runs)
	grep -nE '^(ENV|ARG) .*(SECRET|TOKEN|PASSWORD|DSN)' "$f" && {
		echo "no secret may be set in the image"; bad=1; }
	return $bad
}
# the runtime stage installs the Debian package of every shared library the
# built daemons need (readelf NEEDED -> dpkg -S on this Debian 12 machine,
# the release of the image's base)
dockerfile_runtime_libs() {
	local bin_dir=${PARLEY_BIN_DIR:-build/bin} runtime lib pkg bad=0
	runtime=$(awk '/^FROM /{buf=""} {buf=buf"\n"$0} END{print buf}' deploy/docker/Dockerfile |
		awk '/^RUN apt-get/,/rm -rf/' | tr -d "\\\\" | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$')
	for d in gateway message-svc presence-svc notify-svc search-indexer devkafka; do
		[ -x "$bin_dir/$d" ] || { echo "$bin_dir/$d not built (make)"; return 1; }
		readelf -d "$bin_dir/$d" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
	done | sort -u >"$tmp/needed"
	while IFS= read -r lib; do
		pkg=$(dpkg -S "*/$lib" 2>/dev/null | head -n 1 | cut -d: -f1)
		[ -n "$pkg" ] || { echo "no package owns $lib"; bad=1; continue; }
		[ "$pkg" = libc6 ] && continue        # in every Debian image
		grep -qx "$pkg" <<<"$runtime" || { echo "$lib: $pkg missing from the runtime stage"; bad=1; }
	done <"$tmp/needed"
	return $bad
}
check "Dockerfile RUN lines pass shellcheck" dockerfile_shellcheck
check "Dockerfile runtime stage has every library the daemons link" dockerfile_runtime_libs
check "Dockerfile rules" dockerfile_rules
check "image scripts pass shellcheck" shellcheck -s sh deploy/docker/entrypoint.sh \
	deploy/docker/healthcheck.sh deploy/docker/kafka-topics.sh

# the entrypoint's shard, DSN and URL derivations, with stand-in daemons
entrypoint_behaviour() {
	mkdir -p "$tmp/ep/bin" "$tmp/ep/sec"
	for d in gateway message-svc search-indexer; do
		# shellcheck disable=SC2016 # expanded by the stand-in, not here
		printf '#!/bin/sh\necho "shard=$PARLEY_SHARD_INDEX search=${PARLEY_SEARCH_INDEX:-} dsn=$PARLEY_PG_DSN urls=$PARLEY_MESSAGE_URLS search_urls=${PARLEY_SEARCH_URLS:-} args=$*"\n' \
			>"$tmp/ep/bin/$d"
		chmod +x "$tmp/ep/bin/$d"
	done
	echo "host=pg dbname=parley_shard_3" >"$tmp/ep/sec/pg-dsn-3"
	echo "host=pg dbname=parley_search_1" >"$tmp/ep/sec/search-dsn-1"
	sed "s|/opt/parley/bin|$tmp/ep/bin|" deploy/docker/entrypoint.sh >"$tmp/ep/ep.sh"
	local got want
	got=$(env -i PATH="$PATH" PARLEY_SHARD_FROM_HOSTNAME=1 PARLEY_POD_NAME=message-svc-3 \
		PARLEY_PG_DSN_DIR="$tmp/ep/sec" sh "$tmp/ep/ep.sh" message-svc -x)
	want="shard=3 search= dsn=host=pg dbname=parley_shard_3 urls= search_urls= args=-x"
	[ "$got" = "$want" ] || { echo "got:  $got"; echo "want: $want"; return 1; }
	got=$(env -i PATH="$PATH" PARLEY_SHARD_FROM_HOSTNAME=1 PARLEY_POD_NAME=search-indexer-1 \
		PARLEY_PG_DSN_DIR="$tmp/ep/sec" PARLEY_SHARD_COUNT=2 PARLEY_SEARCH_COUNT=2 \
		PARLEY_MESSAGE_URL_TEMPLATE='tcp://message-svc-{i}.message-svc:7100' \
		PARLEY_SEARCH_URL_TEMPLATE='tcp://search-indexer-{i}.search-indexer:7300' \
		sh "$tmp/ep/ep.sh" search-indexer)
	want="shard= search=1 dsn=host=pg dbname=parley_search_1 urls=tcp://message-svc-0.message-svc:7100,tcp://message-svc-1.message-svc:7100 search_urls=tcp://search-indexer-0.search-indexer:7300,tcp://search-indexer-1.search-indexer:7300 args="
	[ "$got" = "$want" ] || { echo "got:  $got"; echo "want: $want"; return 1; }
	got=$(env -i PATH="$PATH" PARLEY_SHARD_COUNT=3 PARLEY_SEARCH_COUNT=2 \
		PARLEY_MESSAGE_URL_TEMPLATE='tcp://message-svc-{i}.message-svc:7100' \
		PARLEY_SEARCH_URL_TEMPLATE='tcp://search-indexer-{i}.search-indexer:7300' \
		sh "$tmp/ep/ep.sh" gateway)
	want="shard= search= dsn= urls=tcp://message-svc-0.message-svc:7100,tcp://message-svc-1.message-svc:7100,tcp://message-svc-2.message-svc:7100 search_urls=tcp://search-indexer-0.search-indexer:7300,tcp://search-indexer-1.search-indexer:7300 args="
	[ "$got" = "$want" ] || { echo "got:  $got"; echo "want: $want"; return 1; }
	# a pod name without an ordinal, an unknown daemon: refused
	if env -i PATH="$PATH" PARLEY_SHARD_FROM_HOSTNAME=1 PARLEY_POD_NAME=message-svc \
		sh "$tmp/ep/ep.sh" message-svc 2>/dev/null; then echo "no ordinal accepted"; return 1; fi
	if sh "$tmp/ep/ep.sh" sh -c true 2>/dev/null; then echo "unknown daemon accepted"; return 1; fi
	return 0
}
check "entrypoint: index from the pod name, DSN and URLs per instance" entrypoint_behaviour

# the topic script reads the partition counts kept in proto/names.h
topics_behaviour() {
	cat >"$tmp/kafka-topics-fake" <<'FAKE'
#!/bin/sh
# stands in for Kafka's kafka-topics.sh: records --create, answers --describe
case " $* " in
*" --create "*) echo "$*" >>"$FAKE_LOG" ;;
*" --describe "*) t=$(echo "$*" | sed 's/.*--topic \([^ ]*\).*/\1/')
	n=$(grep -- "--topic $t " "$FAKE_LOG" | sed 's/.*--partitions \([0-9]*\).*/\1/')
	echo "Topic: $t	TopicId: x	PartitionCount: $n	ReplicationFactor: 1" ;;
esac
FAKE
	chmod +x "$tmp/kafka-topics-fake"
	: >"$tmp/topics.log"
	FAKE_LOG="$tmp/topics.log" KAFKA_TOPICS="$tmp/kafka-topics-fake" \
		sh deploy/docker/kafka-topics.sh proto/names.h kafka:9092 3 || return 1
	local want
	for t in MESSAGES EVENTS PRESENCE; do
		want=$(sed -n "s/^#define PL_TOPIC_${t}_PARTITIONS \([0-9]*\)$/\1/p" proto/names.h)
		name=$(sed -n "s/^#define PL_TOPIC_$t \"\([a-z.]*\)\".*/\1/p" proto/names.h)
		grep -q -- "--topic $name --partitions $want --replication-factor 3" "$tmp/topics.log" ||
			{ echo "$name not created with $want partitions"; cat "$tmp/topics.log"; return 1; }
	done
}
check "kafka-topics.sh creates the topics with proto/names.h's partition counts" topics_behaviour

# ---- Prometheus
check "promtool check config (compose/local)" promtool check config deploy/prometheus/prometheus.yml
# Debian's Prometheus is built without Kubernetes service discovery: check
# the Kubernetes config with its kubernetes_sd_configs replaced by a static
# target (everything else, the relabelling included, is checked as is)
k8s_prom_config() {
	/usr/bin/python3 - "$tmp/prometheus-k8s.yml" <<'PY' || return 1
import sys, yaml
c = yaml.safe_load(open("deploy/prometheus/prometheus-k8s.yml"))
for sc in c["scrape_configs"]:
    assert sc.pop("kubernetes_sd_configs") == [{"role": "pod"}], sc["job_name"]
    sc["static_configs"] = [{"targets": ["127.0.0.1:9100"]}]
c["rule_files"] = ["%s/%s" % ("deploy/prometheus", f) for f in c["rule_files"]]
import os
c["rule_files"] = [os.path.abspath(f) for f in c["rule_files"]]
yaml.safe_dump(c, open(sys.argv[1], "w"))
PY
	promtool check config "$tmp/prometheus-k8s.yml"
}
check "promtool check config (Kubernetes, discovery replaced)" k8s_prom_config
check "promtool check rules" promtool check rules deploy/prometheus/rules/*.yml
check "promtool test rules (a test per alert)" promtool test rules deploy/prometheus/tests/*.yml

every_alert_tested() {
	/usr/bin/python3 - <<'PY'
import glob, sys, yaml
alerts = set()
for f in glob.glob("deploy/prometheus/rules/*.yml"):
    for g in yaml.safe_load(open(f))["groups"]:
        alerts |= {r["alert"] for r in g["rules"] if "alert" in r}
fires, silent = set(), set()
for f in glob.glob("deploy/prometheus/tests/*.yml"):
    for t in yaml.safe_load(open(f))["tests"]:
        for a in t.get("alert_rule_test", []):
            (fires if a.get("exp_alerts") else silent).add(a["alertname"])
# an alert's "below" case is either its own silent test or a series in the
# firing test that does not appear in exp_alerts (checked by promtool)
missing = sorted(alerts - fires)
if missing:
    sys.exit("alerts without a firing unit test: %s" % missing)
print("%d alerts, each with a firing test" % len(alerts))
PY
}
check "every alert has a unit test that fires" every_alert_tested

runbooks_exist() {
	/usr/bin/python3 - <<'PY'
import glob, re, sys, yaml
anchors = set()
for line in open("docs/operations.md"):
    m = re.match(r"#+\s+(.*)", line)
    if m:
        a = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        anchors.add(a)
bad = []
for f in glob.glob("deploy/prometheus/rules/*.yml"):
    for g in yaml.safe_load(open(f))["groups"]:
        for r in g["rules"]:
            if "alert" not in r:
                continue
            rb = r.get("annotations", {}).get("runbook", "")
            if not rb.startswith("docs/operations.md#") or rb.split("#", 1)[1] not in anchors:
                bad.append((r["alert"], rb))
if bad:
    sys.exit("runbook annotations without a docs/operations.md section: %s" % bad)
PY
}
check "every alert's runbook is a section of docs/operations.md" runbooks_exist

# ---- Grafana: JSON, datasource, and every expression is valid PromQL
dashboard_promql() {
	/usr/bin/python3 - "$tmp/dash-rules.yml" <<'PY' || return 1
import glob, json, sys, yaml
rules = []
for f in glob.glob("deploy/grafana/dashboards/*.json"):
    d = json.load(open(f))
    assert d.get("uid") and d.get("panels"), f
    for p in d["panels"]:
        for t in p.get("targets", []):
            assert p["datasource"]["uid"] == "parley-prometheus", (f, p["title"])
            rules.append({"record": "dashboard:check:%d" % len(rules), "expr": t["expr"]})
if not rules:
    sys.exit("no expressions")
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[1], "w"))
PY
	promtool check rules "$tmp/dash-rules.yml"
}
check "Grafana dashboard: JSON and PromQL of every panel" dashboard_promql
check "Grafana provisioning is YAML with the dashboard's datasource uid" \
	grep -q 'uid: parley-prometheus' deploy/grafana/provisioning/datasources/prometheus.yml

# ---- haproxy (the compose environment)
check "haproxy -c (compose settings)" env PARLEY_LB_BIND=:8080 PARLEY_LB_OPS_BIND=:8404 \
	PARLEY_LB_GATEWAY_1=127.0.0.1:18081 PARLEY_LB_GATEWAY_2=127.0.0.1:18082 PARLEY_LB_SOURCE=0.0.0.0 \
	haproxy -c -q -f deploy/haproxy/haproxy.cfg

# ---- Kubernetes
render_json() {
	# kustomize YAML on stdin -> JSON array
	/usr/bin/python3 -c 'import sys, yaml, json; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))'
}
k8s_validate() {
	local dir=$1
	kubectl kustomize "deploy/k8s/$dir" >"$tmp/k8s.yaml" 2>"$tmp/k8s.err" ||
		{ cat "$tmp/k8s.err"; return 1; }
	render_json <"$tmp/k8s.yaml" >"$tmp/k8s.json" || return 1
	(cd deploy/k8s/validate && node validate.js) <"$tmp/k8s.json"
}
k8s_npm() {
	[ -d deploy/k8s/validate/node_modules/kubernetes-models ] && return 0
	(cd deploy/k8s/validate && npm ci --no-audit --no-fund --loglevel=error)
}
check "npm ci (kubernetes-models)" k8s_npm
check "kubectl kustomize base + schema validation" k8s_validate base
check "kubectl kustomize overlays/dev + schema validation" k8s_validate overlays/dev
k8s_shape() {
	kubectl kustomize deploy/k8s/overlays/dev 2>/dev/null | render_json | /usr/bin/python3 -c '
import json, sys
objs = json.load(sys.stdin)
by = {(o["kind"], o["metadata"]["name"]): o for o in objs}
cm = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("parley-config"))
shards = int(cm["data"]["PARLEY_SHARD_COUNT"])
ms = by[("StatefulSet", "message-svc")]
assert ms["spec"]["replicas"] == shards, "message-svc replicas %s != PARLEY_SHARD_COUNT %s" % (ms["spec"]["replicas"], shards)
si = by[("StatefulSet", "search-indexer")]
assert si["spec"]["replicas"] == int(cm["data"]["PARLEY_SEARCH_COUNT"]), "search-indexer replicas != PARLEY_SEARCH_COUNT"
for kind, name in [("StatefulSet", "message-svc"), ("StatefulSet", "notify-svc"),
                   ("StatefulSet", "search-indexer"), ("Deployment", "presence-svc"),
                   ("Deployment", "gateway")]:
    spec = by[(kind, name)]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True, name
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert c["resources"]["requests"] and c["resources"]["limits"], name
    ann = by[(kind, name)]["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true", name
gw = by[("Deployment", "gateway")]["spec"]["template"]["spec"]
assert gw["containers"][0]["lifecycle"]["preStop"], "gateway preStop"
assert gw["terminationGracePeriodSeconds"] >= 20, "grace period"
for k in [("HorizontalPodAutoscaler", "gateway"), ("PodDisruptionBudget", "gateway"),
          ("NetworkPolicy", "default-deny-ingress"), ("NetworkPolicy", "search-indexer-peers")]:
    assert k in by, k
print("ok")
'
}
check "manifests: shard/search counts = replicas, probes, securityContext, resources, scrape" k8s_shape
if [ -n "${PARLEY_KUBECTL_V2:-}" ]; then
	# the same objects, up to the generated names' hash suffixes (v2 and v5
	# hash differently) and the wrapping of Secret values
	canonical() {
		render_json | /usr/bin/python3 -c '
import json, re, sys
objs = sorted(json.load(sys.stdin), key=lambda o: (o["kind"], o["metadata"]["name"]))
for o in objs:
    if o["kind"] == "Secret":
        o["data"] = {k: v.replace("\n", "") for k, v in o["data"].items()}
    if o["metadata"].get("annotations") == {}:
        del o["metadata"]["annotations"]
print(re.sub(r"(parley-(config|secrets))-[a-z0-9]+", r"\1", json.dumps(objs, sort_keys=True, indent=1)))'
	}
	k8s_same() {
		diff <("$PARLEY_KUBECTL_V2" kustomize deploy/k8s/overlays/dev | canonical) \
			<(kubectl kustomize deploy/k8s/overlays/dev 2>/dev/null | canonical)
	}
	check "kustomize v2 ($PARLEY_KUBECTL_V2) renders what kubectl kustomize renders" k8s_same
fi

# every PARLEY_* variable given to a daemon is one of its settings (--help of
# the built binaries) or read by the entrypoint
settings_used() {
	docker-compose --env-file deploy/compose/.env.example \
		-f deploy/compose/docker-compose.yml config >"$tmp/compose.yml" || return 1
	kubectl kustomize deploy/k8s/overlays/dev >"$tmp/k8s-dev.yaml" 2>/dev/null || return 1
	/usr/bin/python3 tests/deploy/settings_used.py "$tmp/compose.yml" "$tmp/k8s-dev.yaml" \
		"${PARLEY_BIN_DIR:-build/bin}"
}
check "compose and manifests give each daemon only settings it has" settings_used

# ---- yamllint
check "yamllint deploy/" yamllint -s -c deploy/.yamllint deploy/

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
