// Package postgres is the scale-out implementation of store.Store, on
// PostgreSQL through pgx: several `trackplan serve` replicas share one
// database, every replica collects, and one of them, elected with an advisory
// lock (see Leader), runs the scheduled jobs.
//
// # Schema and migrations
//
// The schema lives in embedded, ordered migrations (migrations/NNNN_*.sql),
// recorded in a schema_migrations table and applied at Open under an advisory
// lock scoped to the current schema, so replicas starting together do not
// race. The DSN may set search_path to keep trackplan's tables in a schema of
// their own (postgres://host/db?search_path=trackplan).
//
// Times are timestamptz (microsecond precision, like the SQLite store);
// activity days are dates (UTC); trait values are jsonb (a cleared trait is
// the JSON null); raw messages (samples, the reservoir) are bytea so they are
// returned byte for byte as received. Text keys use the "C" collation, so
// every ordering is byte order, as in the SQLite store, whatever the
// database's default collation. PostgreSQL text cannot hold NUL bytes or
// invalid UTF-8: such bytes in names, ids and values are stored as U+FFFD.
//
// # The log and concurrency
//
// Unlike SQLite, several Append calls run at once, from one replica or many.
// Deduplication is the database's: message ids are claimed with INSERT … ON
// CONFLICT DO NOTHING on the dedupe table's primary key, so a message sent to
// one replica and resent to another is stored once. An append takes its
// block's sequence numbers with its last statement, an UPDATE of the single
// log_state row whose lock it holds until it commits: appends wait for each
// other only for that moment, and sequence numbers follow commit order, so a
// reader never sees a block before the blocks numbered below it.
//
// # Log layout and retention
//
// Blocks are bytea rows of log_blocks, a table partitioned by arrival day
// (UTC): one partition per day, log_blocks_YYYYMMDD, each with its own index
// on first_seq, which ReadLog scans across partitions in sequence order.
// Partitions are made on demand: before its transaction, an append creates
// the partition of its arrival day unless its DB already knows of it
// (CREATE TABLE IF NOT EXISTS, which briefly locks the whole table; replicas
// racing to create one take the winner's, and an append to a day another
// replica has since dropped makes it again). PruneLog drops whole day
// partitions, without deleting rows or leaving dead space to vacuum: the
// days before the cutoff whose every block the derived state has applied. A
// day holding a block not yet applied is kept until a later prune.
//
// Apply holds the lock of the derive_state row, the cursor, for its whole
// transaction: applies from every replica run one at a time, and one that
// finds the cursor moved changes nothing. The cursor has a row of its own so
// that appends never wait for an apply. Every upsert writes its rows in
// sorted key order, and tables in a fixed order, so transactions touching
// the same rows (an apply, the duplicate counts of appends) lock them in the
// same order; deadlocks and serialization failures are retried anyway.
//
// SwitchPlan takes the same lock with its first statement, an UPDATE of the
// plan column that matches only the cursor and epoch the re-check was made
// at, and then replaces the hourly verdicts and volumes in the same
// transaction; Apply reads the plan under the lock and refuses a run
// checked against another one (store.ErrPlanMoved).
//
// The cardinality guard (store.Guard) is per replica: each DB loads it at
// Open from what the tables hold and then learns only from the runs it
// applies itself (ResetDerived empties it; after a SwitchPlan that replaced
// the verdicts, the next apply loads it again, and so does every replica's
// after a prune that dropped events, which moves the epoch). Planned events
// and paths take no slot (see store.Guard). With several replicas deriving,
// the limits are therefore approximate: events or property paths first
// applied by different replicas may together exceed a limit by a little, and
// a replica may count a CARDINALITY_LIMIT finding for an event another
// replica stored after this one opened.
package postgres
