#!/bin/sh
# parley-entrypoint - start the daemon named by the first argument.
#
#   PARLEY_SHARD_FROM_HOSTNAME=1  shard index = the ordinal at the end of the
#                                 pod name (PARLEY_POD_NAME, else the host
#                                 name; StatefulSet pod "message-svc-3"
#                                 is shard 3); PARLEY_SHARD_INDEX otherwise
#   PARLEY_PG_DSN_<i>             the PostgreSQL DSN of shard i, used as
#                                 PARLEY_PG_DSN when that is unset
#   PARLEY_PG_DSN_<i>_FILE        the same, read from a mounted secret file
#   PARLEY_PG_DSN_DIR             the same, read from <dir>/pg-dsn-<i> (a
#                                 mounted Secret with one key per shard)
#   PARLEY_MESSAGE_URL_TEMPLATE   gateway: when PARLEY_MESSAGE_URLS is unset,
#                                 one URL per shard 0..PARLEY_SHARD_COUNT-1 with
#                                 "{i}" replaced by the index, e.g.
#                                 tcp://message-svc-{i}.message-svc:7100
set -eu

daemon=${1:-}
case "$daemon" in
gateway | message-svc | presence-svc | notify-svc | search-indexer | devkafka) shift ;;
*)
	echo "parley-entrypoint: unknown daemon '$daemon' (gateway, message-svc, presence-svc, notify-svc, search-indexer, devkafka)" >&2
	exit 64
	;;
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
	PARLEY_SHARD_INDEX=$ordinal
	export PARLEY_SHARD_INDEX
fi

if [ -z "${PARLEY_PG_DSN:-}" ] && [ -n "${PARLEY_SHARD_INDEX:-}" ]; then
	dsn_file=$(printenv "PARLEY_PG_DSN_${PARLEY_SHARD_INDEX}_FILE" || true)
	if [ -z "$dsn_file" ] && [ -n "${PARLEY_PG_DSN_DIR:-}" ]; then
		dsn_file=$PARLEY_PG_DSN_DIR/pg-dsn-$PARLEY_SHARD_INDEX
	fi
	if [ -n "$dsn_file" ]; then
		PARLEY_PG_DSN=$(cat "$dsn_file")
	else
		PARLEY_PG_DSN=$(printenv "PARLEY_PG_DSN_${PARLEY_SHARD_INDEX}" || true)
	fi
	if [ -n "$PARLEY_PG_DSN" ]; then
		export PARLEY_PG_DSN
	fi
fi

if [ -z "${PARLEY_MESSAGE_URLS:-}" ] && [ -n "${PARLEY_MESSAGE_URL_TEMPLATE:-}" ]; then
	i=0
	urls=
	while [ "$i" -lt "${PARLEY_SHARD_COUNT:-1}" ]; do
		u=$(printf '%s' "$PARLEY_MESSAGE_URL_TEMPLATE" | sed "s/{i}/$i/g")
		urls=${urls:+$urls,}$u
		i=$((i + 1))
	done
	PARLEY_MESSAGE_URLS=$urls
	export PARLEY_MESSAGE_URLS
fi

exec "/opt/parley/bin/$daemon" "$@"
