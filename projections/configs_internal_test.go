package projections

import (
	"testing"

	"github.com/ringrift/ringriftd/event"
	"github.com/stretchr/testify/assert"
)

func TestCanonicalIndex(t *testing.T) {
	for i, k := range event.ConfigKeys() {
		assert.Equal(t, i, canonicalIndex(k), k)
	}
	for _, k := range []string{"", "p", "2p", "hex8_2", "hex8_5p", "hex9_2p", "hexbig_2p", "Hex8_2p", "square8_1p", "square19_4", "hexagonal_4q", "hexagonal_4p\x00"} {
		assert.Equal(t, -1, canonicalIndex(k), "%q", k)
	}
}
