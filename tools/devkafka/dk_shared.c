/* dk_shared.c - what both devkafka engines share: the settings and the
 * Parley topics. (Each engine writes the brokers file every daemon reads,
 * PARLEY_KAFKA_BROKERS_FILE, with pl_write_file.) */
#include "devkafka.h"
#include "names.h"

struct dk_conf dk_conf;	/* filled by main.c's config table */

const struct dk_topic_spec dk_topics[DK_NTOPICS] = {
	{ PL_TOPIC_MESSAGES, &dk_conf.partitions_messages },
	{ PL_TOPIC_EVENTS, &dk_conf.partitions_events },
	{ PL_TOPIC_PRESENCE, &dk_conf.partitions_presence },
};
