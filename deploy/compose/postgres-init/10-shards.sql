-- the second shard's database (POSTGRES_DB creates parley_shard_0) and
-- search-indexer's and notify-svc's own; each daemon applies its own migrations at start-up
CREATE DATABASE parley_shard_1 OWNER parley;
CREATE DATABASE parley_search OWNER parley;
CREATE DATABASE parley_notify OWNER parley;
