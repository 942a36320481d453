package projections

import "github.com/ringrift/ringriftd/event"

// canonicalKeys are the twelve canonical config keys in sorted order.
var canonicalKeys = event.ConfigKeys()

// canonicalSlots finds a canonical key without hashing it: by the key's
// length and its player digit. A slot holds the key's index + 1; 0 means no
// canonical key has that shape, -1 that several do (then the caller's map
// answers).
var canonicalSlots = func() (t [32][event.MaxPlayers - event.MinPlayers + 1]int8) {
	for i, k := range canonicalKeys {
		l, n := len(k), int(k[len(k)-2]-'0')-event.MinPlayers
		if l >= len(t) || n < 0 || n >= len(t[0]) {
			panic("projections: unexpected canonical config key " + k)
		}
		if t[l][n] == 0 {
			t[l][n] = int8(i + 1)
		} else {
			t[l][n] = -1
		}
	}
	return t
}()

// canonicalIndex returns the index of key among the canonical keys; -1 when it
// is not one or when the shortcut cannot tell (the caller's map decides).
func canonicalIndex(key string) int {
	l := len(key)
	if l < 2 || l >= len(canonicalSlots) {
		return -1
	}
	n := int(key[l-2]-'0') - event.MinPlayers
	if n < 0 || n >= len(canonicalSlots[0]) {
		return -1
	}
	s := int(canonicalSlots[l][n])
	if s <= 0 || canonicalKeys[s-1] != key {
		return -1
	}
	return s - 1
}
