#!/bin/sh
# parley-entrypoint - start the daemon named by the first argument.
#
#   PARLEY_SHARD_FROM_HOSTNAME=1  the instance index = the ordinal at the end
#                                 of the pod name (PARLEY_POD_NAME, else the
#                                 host name; StatefulSet pod "message-svc-3"
#                                 is 3): PARLEY_SHARD_INDEX of message-svc,
#                                 PARLEY_SEARCH_INDEX of search-indexer
#   PARLEY_PG_DSN_<i>             message-svc: the PostgreSQL DSN of shard i,
#                                 used as PARLEY_PG_DSN when that is unset
#   PARLEY_PG_DSN_<i>_FILE        the same, read from a mounted secret file
#   PARLEY_PG_DSN_DIR             the same, read from <dir>/pg-dsn-<i> (a
#                                 mounted Secret with one key per shard);
#                                 search-indexer: <dir>/search-dsn-<i>
#   PARLEY_MESSAGE_URL_TEMPLATE   when PARLEY_MESSAGE_URLS is unset: one URL per
#                                 shard 0..PARLEY_SHARD_COUNT-1 with "{i}"
#                                 replaced by the index, e.g.
#                                 tcp://message-svc-{i}.message-svc:7100
#   PARLEY_SEARCH_URL_TEMPLATE    gateway and search-indexer (which asks
#                                 its peers), when PARLEY_SEARCH_URLS is
#                                 unset: the same per search-indexer
#                                 instance 0..PARLEY_SEARCH_COUNT-1
set -eu

daemon=${1:-}
case "$daemon" in
gateway | message-svc | presence-svc | notify-svc | search-indexer | devkafka) shift ;;
*)
	echo "parley-entrypoint: unknown daemon '$daemon' (gateway, message-svc, presence-svc, notify-svc, search-indexer, devkafka)" >&2
	exit 64
	;;
esac

# where this daemon keeps its instance index, and its DSN key in PARLEY_PG_DSN_DIR
case "$daemon" in
search-indexer) index_var=PARLEY_SEARCH_INDEX dsn_key=search-dsn ;;
*) index_var=PARLEY_SHARD_INDEX dsn_key=pg-dsn ;;
esac

if [ "${PARLEY_SHARD_FROM_HOSTNAME:-0}" = 1 ]; then
	host=${PARLEY_POD_NAME:-$(hostname)}
	ordinal=${host##*-}
	case "$ordinal" in
	'' | *[!0-9]*)
		echo "parley-entrypoint: host name '$host' does not end in -<ordinal>" >&2
		exit 64
		;;
	esac
	export "$index_var=$ordinal"
fi
index=$(printenv "$index_var" || true)

if [ -z "${PARLEY_PG_DSN:-}" ] && [ -n "$index" ]; then
	dsn_file=
	if [ "$daemon" = message-svc ]; then
		dsn_file=$(printenv "PARLEY_PG_DSN_${index}_FILE" || true)
	fi
	if [ -z "$dsn_file" ] && [ -n "${PARLEY_PG_DSN_DIR:-}" ]; then
		dsn_file=$PARLEY_PG_DSN_DIR/$dsn_key-$index
	fi
	if [ -n "$dsn_file" ]; then
		PARLEY_PG_DSN=$(cat "$dsn_file")
	elif [ "$daemon" = message-svc ]; then
		PARLEY_PG_DSN=$(printenv "PARLEY_PG_DSN_${index}" || true)
	fi
	if [ -n "${PARLEY_PG_DSN:-}" ]; then
		export PARLEY_PG_DSN
	fi
fi

# url_list TEMPLATE COUNT - "{i}" of TEMPLATE for i in 0..COUNT-1, comma-separated
url_list() {
	i=0
	urls=
	while [ "$i" -lt "$2" ]; do
		urls=${urls:+$urls,}$(printf '%s' "$1" | sed "s/{i}/$i/g")
		i=$((i + 1))
	done
	printf '%s' "$urls"
}
if [ -z "${PARLEY_MESSAGE_URLS:-}" ] && [ -n "${PARLEY_MESSAGE_URL_TEMPLATE:-}" ]; then
	PARLEY_MESSAGE_URLS=$(url_list "$PARLEY_MESSAGE_URL_TEMPLATE" "${PARLEY_SHARD_COUNT:-1}")
	export PARLEY_MESSAGE_URLS
fi
if { [ "$daemon" = gateway ] || [ "$daemon" = search-indexer ]; } &&
	[ -z "${PARLEY_SEARCH_URLS:-}" ] &&
	[ -n "${PARLEY_SEARCH_URL_TEMPLATE:-}" ]; then
	PARLEY_SEARCH_URLS=$(url_list "$PARLEY_SEARCH_URL_TEMPLATE" "${PARLEY_SEARCH_COUNT:-1}")
	export PARLEY_SEARCH_URLS
fi

exec "/opt/parley/bin/$daemon" "$@"
