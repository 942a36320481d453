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
// sequencer takes every request waiting, validates ids and content duplicates,
// runs the Hook, builds one Pebble batch for the whole group and applies it with
// a synced write it does not wait for (ApplyNoSyncWait). A second goroutine
// waits for the fsync of each group in order, publishes the durable high-water
// mark and answers the group's appenders. While one group is being synced the
// next is being built: that is the group commit that lets many concurrent
// appenders share one fsync.
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
// # On-disk format (version 1)
//
// Keys are byte strings; every seq is 8 bytes big-endian, so keys sort in seq
// order. Strings inside keys are prefixed by their length (uvarint), so that
// one value's keys can never be read as another value's.
//
//	'F'                              format version: one byte, FormatVersion
//	'e' seq                          an event record (below)
//	'i' id[16]                       the seq of the event with this ULID (8 bytes)
//	't' len type seq                 type index, empty value
//	'c' len config_key seq           config index: a copy of the event record, so
//	                                 that one config's events are read by one scan
//	'n' len node_id seq              node index, empty value
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
//	's' name                         a subscription's cursor (below)
//	'k' name                         a checkpoint: version (4) + seq (8) + data
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
// 'F' stays 1, since every older journal still opens; going back is not
// promised: the first release's daemon reads the new cursors (their first
// 8 bytes), but its replay lost refuses them as corrupt.
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
