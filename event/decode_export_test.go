package event

// ValidJSON exposes validJSON to the external tests (decode_valid_test.go).
var ValidJSON = validJSON

// UnknownTypeRefusal is the uncached refusal of an unknown type, which
// the cached one must equal.
var UnknownTypeRefusal = unknownType
