/* names.h - the names daemons agree on: Kafka topics, nng endpoints, event
 * versions. Change a name here and every daemon follows. */
#ifndef PL_NAMES_H
#define PL_NAMES_H

#define PL_TOPIC_MESSAGES "parley.messages"	/* key = channel id */
#define PL_TOPIC_EVENTS "parley.events"		/* key = team id */
#define PL_TOPIC_PRESENCE "parley.presence"	/* key = team id */

/* partitions of each topic: devkafka's defaults and the topics a real Kafka
 * is given (deploy/compose and deploy/k8s read these three lines; keep the
 * form "#define PL_TOPIC_<NAME>_PARTITIONS <n>"). A shard owns whole
 * partitions: the messages count bounds the shard count. */
#define PL_TOPIC_MESSAGES_PARTITIONS 8
#define PL_TOPIC_EVENTS_PARTITIONS 4
#define PL_TOPIC_PRESENCE_PARTITIONS 4
#define PL_STR_(x) #x
#define PL_STR(x) PL_STR_(x)

#define PL_ENVELOPE_VERSION 1

/* nng endpoints, relative to PARLEY_RUN_DIR when ipc:// is used:
 * message-svc shard i listens on "<run>/message-<i>.ipc" (req/rep),
 * presence-svc on "<run>/presence.ipc" (pull) and "<run>/presence-rpc.ipc",
 * notify-svc on "<run>/notify.ipc", search-indexer on "<run>/search.ipc". */
#define PL_EP_MESSAGE_FMT "ipc://%s/message-%d.ipc"
#define PL_EP_PRESENCE_PUSH_FMT "ipc://%s/presence.ipc"
#define PL_EP_PRESENCE_RPC_FMT "ipc://%s/presence-rpc.ipc"
#define PL_EP_NOTIFY_FMT "ipc://%s/notify.ipc"
#define PL_EP_SEARCH_FMT "ipc://%s/search.ipc"

/* pl_endpoint - format an endpoint from run_dir (or return override if it is
 * non-empty); for message-svc pass the shard index. Heap string. */
char *pl_endpoint(const char *fmt, const char *run_dir, int shard,
    const char *override);

#endif
