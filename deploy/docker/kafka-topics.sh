#!/bin/sh
# kafka-topics.sh - create Parley's three topics on a real Kafka with the
# partition counts of proto/names.h (the one place they are kept; devkafka
# uses the same defaults). Idempotent (--if-not-exists); a topic that exists
# with fewer partitions is an error, never silently used.
#
#   kafka-topics.sh NAMES_H BOOTSTRAP [REPLICATION]
# Runs where Kafka's bin/kafka-topics.sh is (the apache/kafka image).
set -eu
names=$1
bootstrap=$2
rf=${3:-1}
kt=${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}

partitions() {
	sed -n "s/^#define PL_TOPIC_$1_PARTITIONS \([0-9][0-9]*\)\$/\1/p" "$names"
}

for t in MESSAGES EVENTS PRESENCE; do
	name=$(sed -n "s/^#define PL_TOPIC_$t \"\([a-z.]*\)\".*/\1/p" "$names")
	n=$(partitions "$t")
	if [ -z "$name" ] || [ -z "$n" ]; then
		echo "kafka-topics: PL_TOPIC_$t or its partition count missing from $names" >&2
		exit 1
	fi
	"$kt" --bootstrap-server "$bootstrap" --create --if-not-exists \
		--topic "$name" --partitions "$n" --replication-factor "$rf" \
		--config min.insync.replicas="$(( rf > 1 ? 2 : 1 ))"
	have=$("$kt" --bootstrap-server "$bootstrap" --describe --topic "$name" |
		sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n 1)
	if [ "$have" != "$n" ]; then
		echo "kafka-topics: $name has $have partitions, proto/names.h says $n" >&2
		exit 1
	fi
	echo "kafka-topics: $name partitions=$n replication=$rf"
done
