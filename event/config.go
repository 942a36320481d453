package event

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Boards are the board types of the twelve canonical configs.
var Boards = []string{"hex8", "hexagonal", "square19", "square8"}

// MinPlayers and MaxPlayers bound the player count of a config key.
const (
	MinPlayers = 2
	MaxPlayers = 4
)

// ConfigKeys returns the twelve canonical config keys in sorted order, the
// order every "for every config" rule uses.
func ConfigKeys() []string {
	keys := make([]string, 0, len(Boards)*(MaxPlayers-MinPlayers+1))
	for _, b := range Boards {
		for n := MinPlayers; n <= MaxPlayers; n++ {
			keys = append(keys, b+"_"+strconv.Itoa(n)+"p")
		}
	}
	slices.Sort(keys)
	return keys
}

// Configs parses and normalises config keys against a board list: the four
// canonical boards plus any the operator added.
type Configs struct {
	boards []string
}

// NewConfigs returns a parser for the canonical boards plus extra ones.
func NewConfigs(extraBoards ...string) Configs {
	b := append(slices.Clone(Boards), extraBoards...)
	slices.Sort(b)
	return Configs{boards: slices.Compact(b)}
}

// DefaultConfigs accepts the four canonical boards only.
var DefaultConfigs = NewConfigs()

// Normalize returns the canonical form of a config key ("hex8_2" becomes
// "hex8_2p") or a refusal naming field.
func (c Configs) Normalize(s, field string) (string, *Error) {
	board, n, ok := splitConfigKey(s)
	if ok && slices.Contains(c.boards, board) {
		if len(s) == len(board)+3 {
			return s, nil // already {board}_{n}p
		}
		return board + "_" + strconv.Itoa(n) + "p", nil
	}
	return "", Errorf(CodeInvalidConfigKey, field,
		"a config key is {board}_{n}p with board one of "+strings.Join(c.boards, ", ")+" and n 2, 3 or 4, e.g. hex8_2p",
		"invalid config key %q", s)
}

// Boards returns the accepted boards, sorted.
func (c Configs) Boards() []string { return slices.Clone(c.boards) }

func splitConfigKey(s string) (board string, players int, ok bool) {
	i := strings.LastIndexByte(s, '_')
	if i <= 0 {
		return "", 0, false
	}
	board, rest := s[:i], s[i+1:]
	rest = strings.TrimSuffix(rest, "p")
	if len(rest) != 1 || rest[0] < '0'+MinPlayers || rest[0] > '0'+MaxPlayers {
		return "", 0, false
	}
	return board, int(rest[0] - '0'), true
}

// NormalizeConfigKey normalises s against the canonical boards.
func NormalizeConfigKey(s string) (string, bool) {
	k, err := DefaultConfigs.Normalize(s, "config_key")
	return k, err == nil
}

// Players returns the player count of a normalised config key, 0 if it has none.
func Players(configKey string) int {
	_, n, ok := splitConfigKey(configKey)
	if !ok {
		return 0
	}
	return n
}

// maxBoardName bounds an operator-added board name.
const maxBoardName = 32

// ParseBoards parses the operator's extra boards (the daemon's --boards,
// RINGRIFT_BOARDS): names separated by commas, each a lower-case letter then
// lower-case letters, digits or underscores, at most 32 characters, so that
// {board}_{n}p stays unambiguous. Spaces around names and empty entries are
// ignored; canonical boards may be repeated.
func ParseBoards(list string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(list, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if !validBoard(b) {
			return nil, fmt.Errorf("board %q: want a lower-case letter then lower-case letters, digits or _ (at most %d), e.g. hex12", b, maxBoardName)
		}
		out = append(out, b)
	}
	return out, nil
}

func validBoard(b string) bool {
	if b == "" || len(b) > maxBoardName || b[0] < 'a' || b[0] > 'z' {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// WellFormedConfigKey normalises a config key of any board that could have
// been configured ("hex12_2" becomes "hex12_2p"). Folds use it on journaled
// events, which were validated against the daemon's board list when they
// were appended: folding a journal must not depend on a flag.
func WellFormedConfigKey(s string) (string, bool) {
	board, n, ok := splitConfigKey(s)
	if !ok || !validBoard(board) {
		return "", false
	}
	return board + "_" + strconv.Itoa(n) + "p", true
}
