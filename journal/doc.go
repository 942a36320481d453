// Package journal is ringriftd's append-only, totally ordered event log on Pebble
// (github.com/cockroachdb/pebble/v2). It is the only package that imports Pebble.
//
// # Guarantees
//
// Every event gets a seq 1, 2, 3 … with no gaps. An append returns only after
// its events are on disk (fsync); readers and subscribers see events only up to
// the durable high-water mark, so they never see an event a crash could take
// away. The events of one append (plus the decisions a Hook adds) land together
// or not at all. An id already journaled is answered as a duplicate with the
// original seq; the same id with other content is refused (id_conflict). Every
// refusal made here, and every refusal handed to Reject, is kept in the
// rejected log.
//
// # Writing
//
// One sequencer goroutine owns the next seq. Appenders queue requests; the
// sequencer takes each request as it comes, checks ids and content
// duplicates, runs the Hook and sequences it into the group's Pebble batch,
// then applies the batch with a synced write it does not wait for
// (ApplyNoSyncWait). A second goroutine waits for the fsync of each group in
// order, publishes the durable high-water mark and answers the group's
// appenders. While one group is in its fsync the next is being built, request
// by request, so that when it goes only its hand-over to Pebble is left: the
// committer pipeline, and the group commit that lets many concurrent
// appenders share one fsync.
//
// When a group goes is decided in gather.go. Pebble runs one fsync at a time
// and starts the next with whatever was written meanwhile, so a small group
// is held while another is in flight, and once the log is idle the sequencer
// waits, at most one fsync's time, for a crowd of appenders the last fsync
// answered to come back: 64 appenders then share one fsync per round, where
// the first one back used to ride an fsync alone and the other 63 the next.
// A lone appender never waits, nor does a group of 256 events or more.
// A replica (cluster mode) builds its group once collected, the log of
// record's events first, and does not gather.
//
// An acknowledged append writes only what the guarantees need: each
// event's record, its id key (idempotency) and, with a dedup window, its
// content key. The secondary indexes are not on that path (below).
//
// # Indexes, behind the log
//
// journal.md has the index keys written in the batch of their events;
// since issue 15 ("the write path at the limit") they are not: what the
// spec wants of them holds — a filtered read does not scan the whole log,
// only the part the indexer has not reached — and the acknowledged path
// writes two keys per event (record and id) where it wrote up to five.
//
// The indexes by type, config and node are derived data, built by the
// indexer goroutine from the durable log: it reads the events after its
// watermark (the last seq it indexed) up to the durable high-water mark
// and writes their index entries and the new watermark in one unsynced
// batch of up to 4,096 events. A crash can take an index batch away but
// never half of one, and never the events it names (they were synced
// first); Open starts the indexer, which catches up from the stored
// watermark. The watermark never passes the log's end; should a stored one
// (a file system that kept a later write and lost an earlier synced one),
// Open drops the index epochs from the log's last one on and indexes them
// again.
//
// Reads by type, config or node stay exact at the durable high-water mark
// whatever the indexer's lag: Scan reads the indexes up to the watermark
// and then scans the log after it, filtering the records (their type,
// config and node are read without decoding the rest). It never waits for
// the indexer: a lagging indexer makes such reads slower, never wrong.
// Indexed returns the watermark, IndexLag the durable events not indexed
// yet (the daemon exports it as ringriftd_journal_index_lag), WaitIndexed
// waits for the indexer. The indexer leaves the disk reserve ("Faults")
// and a memtable's worth more to the appends (with the guard off, the
// memtable's worth): short of it, it waits for space. Should an index write fail,
// the journal fails (as for any write, below) and the indexer stops; reads
// go on through the log. A journal opened
// read-only (OpenSnapshot) runs no indexer: its reads use the stored
// indexes up to the stored watermark and the log after it.
//
// # Faults
//
// An append is answered landed (its results), not landed (ErrNotLanded;
// ErrDiskFull is one) or outcome unknown (ErrOutcomeUnknown), never falsely,
// and a fault never leaves a gap (errors.go says what each means to a caller).
//
// A read error while sequencing a request (an id or content-dedup lookup)
// makes that request not landed, with the cause: nothing of it is written,
// its hook transaction is rolled back, its seqs are given back and its ids
// and content keys forgotten. The other requests of the group go on and
// are answered truthfully, and the journal keeps running: a failed read
// leaves nothing half-written.
//
// A write error (Pebble refusing or panicking on a batch) or a failed fsync
// fails the journal (ErrFailed, sticky until restart): Pebble's write-ahead
// log cannot be written after an error, and whether the batch reached the
// disk is not known. The requests of that group, and of any group handed to
// Pebble after it, are answered outcome unknown; every later request not
// landed (disk full when the cause was ENOSPC), since nothing is handed to
// Pebble any more. What is on disk stays a gap-free prefix: the log is
// written in order and nothing after the failed write, so a group of
// unknown outcome is after a restart either wholly there (with everything
// before it) or absent (with everything after it). Reads keep working;
// cursor saves and checkpoints are refused (ErrFailed). Pebble panics on a
// write after its log failed; that panic is recovered, Pebble's commit
// pipeline is then stuck, and Close leaves Pebble open (the process is to
// exit and restart).
//
// Disk full is guarded before Pebble meets it. Pebble treats a failed write
// to its manifest as fatal (Logger.Fatalf), and a failure creating or
// closing a log file while its memtable rotates crashes the process with a
// runtime error no recover catches. So the sequencer measures the free space
// of the journal's file system (the FS's GetDiskUsage, statfs) at each group
// commit and refuses, before writing anything, a request that would leave
// less than Options.DiskReserve free (default 64 MiB: a memtable flush of
// 16 MiB, compaction output and a manifest rotation, with headroom): it is
// answered ErrDiskFull and nothing of it lands. The journal does not fail:
// reads, cursor saves and checkpoints use the reserve, and appends resume by
// themselves, gap-free, once space is freed. Where free space cannot be
// measured (an in-memory file system) the guard is off. Should ENOSPC reach
// Pebble anyway (space taken by another process faster than the reserve),
// it is a write error as above, or a crash that a restart recovers like
// kill -9: acknowledged events are durable, nothing unacknowledged is half
// there.
//
// # On-disk format (version 2)
//
// Keys are byte strings; every seq is 8 bytes big-endian, so keys sort in seq
// order. Strings inside keys are prefixed by their length (uvarint), so that
// one value's keys can never be read as another value's.
//
//	'F'                              format version: one byte, FormatVersion (2)
//	'e' seq                          an event record (below)
//	'i' id[16]                       the seq of the event with this ULID (8 bytes)
//	'x' epoch[6] kind len value seq  a secondary-index entry (below)
//	'd' sha256[32] time[8] seq[8]    content-dedup memory (only with a dedup window),
//	                                 one key per event, empty value; time is the
//	                                 event's time in unix ms, big-endian with the
//	                                 sign bit flipped, so one key's events sort by
//	                                 time and a window is one seek
//	'h' sha256[32]                   the older content-dedup memory, written by
//	                                 builds before 'd': seq (8) + the event's time
//	                                 in ms (8, big-endian) of the newest event of
//	                                 each key only. Still read, no longer written.
//
//	'r' rseq                         a rejected-log entry (JSON, see Rejection)
//	'M' "rejected_dropped"           how many rejected entries were dropped (8)
//	'M' "index_seq"                  the index watermark (8): every event up to
//	                                 it has its index entries
//	's' name                         a subscription's cursor (below)
//	'k' name                         a checkpoint: version (4) + seq (8) + data
//
// A secondary-index entry's epoch is seq>>16 (6 bytes, big-endian), kind
// is one byte — 't' type, 'c' config_key, 'n' node_id — and value that
// field's value (len uvarint + bytes). Every event has a 't' entry, a 'c'
// entry when its config_key is set and an 'n' entry when its node_id is.
// 't' and 'n' entries have an empty value; a 'c' entry's value is a copy
// of the event record (a covering index: one config's events are read by
// one scan, without a seek into the log per event). The copy is the
// indexes' largest cost: measured on append_batch1000, dropping it took
// appends from 148–160k to 207–216k events/s, but a config read through a
// reference index and a seek per event fell from 1.35M to 193k events/s,
// well under the 0.3 × raw scan that read_by_config must keep. It stays.
//
// The epoch comes first so that index entries of newer events sort after
// those of older ones, as the log's do: the tables Pebble flushes hold
// index keys of the current epoch only and do not overlap the tables of
// older epochs, so compactions do not rewrite older index data. A read of
// one value seeks once per epoch of its seq range (an epoch is 65,536
// events; an epoch without the value costs that one seek).
//
// # Format 1, and the upgrade
//
// Format 1 wrote the indexes with each event, without epochs: 't' len type
// seq and 'n' len node seq (empty values) and 'c' len config seq (a copy of
// the record). Open upgrades a format-1 journal in one synced batch that
// deletes those three key ranges, stores the watermark 0 and sets the
// format byte to 2; the indexer then builds the format-2 indexes from seq
// 1. The batch lands whole or not at all, and either state is served
// exactly (reads before the rebuild ends scan the log), so a crash at any
// point of the upgrade loses nothing: the next Open upgrades again or
// goes on rebuilding. OpenSnapshot does not write: it reads a format-1
// journal as is, every filtered read scanning the log. A build of format 1
// refuses a journal of format 2 (ErrFormat).
//
// The 'd' form came without a new format version: it adds keys and changes no
// record, so an older build opening a newer journal reads every event and
// only misses the newer dedup memory.
//
// An event record is:
//
//	byte     record version (recordVersion = 1)
//	byte     flags (bit 0: dedup false)
//	[16]byte id
//	varint   time, unix milliseconds
//	varint   recorded_at, unix milliseconds
//	uvarint  len + bytes, for each of: type, config_key, node_id, source,
//	         causation_id, correlation_id
//	bytes    the payload, compact JSON, to the end of the value
//
// A subscription's cursor value is the last seq it handled (8, big-endian),
// then, since the second release, the event types it consumes, so that a
// stopped journal tells what each subscription wants (replay lost checks
// unconsumed and unseen types from it):
//
//	byte     cursor version (cursorTypesVersion = 1)
//	uvarint  number of types (0: every type), then for each, sorted:
//	uvarint  len + bytes, the type's wire value
//
// A value of exactly 8 bytes is the first release's form: the cursor alone,
// its types unknown (Cursor.TypesKnown false). Both forms are read; the
// next save of a running subscription writes the new one. The format byte
// stayed 1 for that change, since every older journal still opened; going
// back is not promised: the first release's daemon reads the new cursors
// (their first 8 bytes), but its replay lost refuses them as corrupt.
//
// Dead letters are not stored apart: a handler_failed event is open until a
// later handler_redelivered names its id as causation_id (DeadLetters
// derives the set from the type index).
//
// # Reading a journal another process holds (OpenSnapshot)
//
// Tools such as replay open a journal with OpenSnapshot, which never writes
// to the directory. When no process holds the directory's LOCK, it takes
// the lock and opens Pebble read-only in place (a daemon cannot start on the
// directory meanwhile). When a daemon holds it, Pebble cannot be opened
// there at all — a read-only open takes the lock too, and Pebble's
// Checkpoint needs an open DB — so OpenSnapshot copies the directory to a
// temporary one and opens the copy: the WAL files first, then the markers,
// OPTIONS and MANIFEST, then the tables (hard links where possible). In that
// order the copy is a prefix of the journal: the WALs read first hold every
// write the copied MANIFEST has not flushed yet. A table compacted away or a
// manifest rotated during the copy fails Pebble's consistency check at open,
// and OpenSnapshot retries with a fresh copy. Close removes the copy.
//
// The format is a file format: a journal written by one version opens in the
// next. Opening a journal whose format byte is newer than FormatVersion fails
// with ErrFormat. A record that cannot be decoded is ErrCorrupt (with its seq).
// A torn tail cannot be seen at this level: Pebble's WAL recovery drops a torn
// last write, and because an append is acknowledged only after its fsync, what it
// drops was never acknowledged.
package journal
