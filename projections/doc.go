// Package projections holds the pure folds of docs/spec/projections.md — Elo,
// curriculum and the cluster facts of health — and the exact JSON of all four
// projections (pipelines, elo, curriculum, health).
//
// Contract of every fold: Apply(e) is a deterministic function of the state
// and the event. It reads the event's own time, never the clock, does no I/O,
// and computes floats in a fixed order (opponents by name, configs by key,
// events in journal order), so the live daemon and a replay produce
// byte-identical JSON for the same journal prefix. A fold has a single writer;
// Clone gives an independent copy (atomic-batch rollback) and
// MarshalJSON/UnmarshalJSON checkpoint its full state at full precision, so
// that restoring a checkpoint and folding the rest equals folding everything.
// The pipeline and recovery machines live in flows; this package only renders
// them.
//
// Rendering (projections.md): map keys are sorted and sets are sorted arrays;
// times are RFC 3339 in UTC (time.RFC3339Nano), a zero time is null. Elo and
// velocities are rounded half away from zero to 2 decimals
// (math.Round(x*100)/100), weights and shares to 3, and the rounded value is
// written in its shortest form that reads back exactly, with ".0" when it is
// integral so that a float field always looks like one (1612.5, 1.0, 0.076;
// -0 is written 0.0). Each Elo config also has the extra field "points", the
// number of points in its velocity window (what the plateau class counts).
//
// Decisions where projections.md is silent:
//   - A config joins the Elo and curriculum projections at its first event
//     that names it (the twelve canonical configs are there from the start);
//     a config listed in curriculum_rebalanced's weights joins too. Joining
//     is not a weight change.
//   - Elo: the "champion" opponent's rating is the champion's current rating,
//     1500 when it never had one (a champion set by promotion_rolled_back);
//     opponents are looked up before the evaluated model's entry is created;
//     an anchor (random, heuristic) is never given an entry, even as the
//     evaluated, promoted or updated participant. Times of velocity points are
//     kept in milliseconds, the journal's precision. A config's first point
//     (and any point older than the newest) makes an exact recompute of the
//     window; points in time order update it incrementally.
//   - Health: any backpressure event naming a config lists that config (with
//     none/none when it only released or reset it); an unknown level changes
//     nothing. A daemon first seen by any event other than daemon_started or
//     daemon_stopped (a heartbeat, a status change without status) has status
//     "unknown"; a heartbeat never changes the status. With no known node the
//     cluster is healthy.
package projections
