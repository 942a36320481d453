// Package event defines what ringriftd journals: the envelope of one event, the
// closed catalog of event types (embedded from catalog.tsv), config keys, the
// payload schemas and the validation that turns posted JSON into events or into
// refusals that name the field and what would be accepted.
//
// Nothing here does I/O or reads the clock: decoding takes the time it should
// assume as "now" from its caller, so that the same input always decodes the same
// way.
package event
