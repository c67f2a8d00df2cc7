-- the second shard's database (POSTGRES_DB creates parley_shard_0); each
-- message-svc shard applies its own migrations at start-up
CREATE DATABASE parley_shard_1 OWNER parley;
