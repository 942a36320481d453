// Package replay answers "what happened, and why" from a journal: the logic
// of the replay command (docs/spec/replay.md). It reads events from a Source — a
// journal directory (through journal.OpenSnapshot, so a running daemon's
// directory is never written), an NDJSON file in the canonical or the
// compatibility shape, or a daemon's /v1/export — and runs pure, streaming
// analyses over them: the timeline, the story of a config or a node, the
// lost-event report, rebuilds and diffs of the projections, policy
// verification, statistics, export and import.
//
// Every analysis streams: it keeps per-key state, never the journal, so a
// million-event journal is read in bounded memory. Each result has a JSON
// form (the --json output) and a text form for people (WriteText), whose
// times are relative to a "now" the caller passes, so output is
// reproducible.
//
// A file is read in its order. Events without a seq (a compatibility dump)
// are numbered after the event before them; a line that does not decode, or
// whose seq does not rise (two exports concatenated), is not read: Rejected
// reports it, and the lost-event report lists it as refused with its line.
// A daemon's export that breaks is reopened after the last seq read, and
// what it sends again is skipped.
package replay
