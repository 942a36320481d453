package event

import (
	"fmt"
	"slices"
	"strings"
)

// Opponent is one opponent's results in an evaluation_completed payload.
type Opponent struct {
	Name    string
	Games   int64
	WinRate float64
}

// opponentsFrom normalises the opponents of a payload from every shape
// events.md accepts: opponents, opponent_results, and vs_random_rate /
// vs_heuristic_rate with games_played. Shapes present together must agree.
// The result is sorted by name.
func opponentsFrom(ms []member) ([]Opponent, *Error) {
	var (
		merged []Opponent
		from   = map[string]string{} // opponent → field that gave it
		found  bool
	)
	add := func(o Opponent, field string) *Error {
		for i := range merged {
			if merged[i].Name != o.Name {
				continue
			}
			if merged[i] != o {
				return Errorf(CodeConflictingField, field, "one shape of opponents, or shapes that agree",
					"%s (%d games, win rate %g) disagrees with %s (%d games, win rate %g)",
					field, o.Games, o.WinRate, from[o.Name], merged[i].Games, merged[i].WinRate)
			}
			return nil
		}
		merged = append(merged, o)
		from[o.Name] = field
		return nil
	}
	for _, key := range []string{"opponents", "opponent_results"} {
		raw := lookupMember(ms, key)
		if raw == nil {
			continue
		}
		found = true
		os, err := parseOpponents(raw, "payload."+key)
		if err != nil {
			return nil, err
		}
		for _, o := range os {
			if err := add(o, "payload."+key+"."+o.Name); err != nil {
				return nil, err
			}
		}
	}
	vs, err := vsRates(ms)
	if err != nil {
		return nil, err
	}
	for _, o := range vs {
		found = true
		if err := add(o, "payload.vs_"+o.Name+"_rate"); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, Errorf(CodeMissingField, "payload.opponents",
			`payload.opponents: {"random": {"games": 50, "win_rate": 0.96}, ...} (or opponent_results, or vs_random_rate / vs_heuristic_rate with games_played)`,
			"evaluation_completed needs payload.opponents")
	}
	slices.SortFunc(merged, func(a, b Opponent) int { return strings.Compare(a.Name, b.Name) })
	return merged, nil
}

func parseOpponents(raw []byte, field string) ([]Opponent, *Error) {
	if raw[0] != '{' {
		return nil, Errorf(CodeInvalidField, field, `an object of opponent → {"games": int > 0, "win_rate": rate}`,
			"%s must be an object, got %s", field, describe(raw))
	}
	var (
		out  []Opponent
		ferr *Error
	)
	_ = eachField(raw, func(k, v []byte) error {
		name := keyString(k)
		o, err := parseOpponent(name, v, field+"."+name)
		if err != nil {
			ferr = err
			return errScan
		}
		out = append(out, o)
		return nil
	})
	if ferr != nil {
		return nil, ferr
	}
	if len(out) == 0 {
		return nil, Errorf(CodeInvalidField, field, "at least one opponent", "%s is empty", field)
	}
	return out, nil
}

func parseOpponent(name string, v []byte, field string) (Opponent, *Error) {
	o := Opponent{Name: name}
	if v[0] != '{' {
		return o, Errorf(CodeInvalidField, field, `{"games": int > 0, "win_rate": rate}`, "%s must be an object, got %s", field, describe(v))
	}
	ms := collect(v, nil)
	games, gname, err := pick(ms, &Field{Key: "games", Aliases: []string{"games_played"}})
	if err != nil {
		err.Field = field + "." + strings.TrimPrefix(err.Field, "payload.")
		return o, err
	}
	if games == nil {
		return o, Errorf(CodeMissingField, field+".games", "an integer > 0 (games_played is also accepted)", "%s needs games", field)
	}
	n, ok := asCount(games)
	if !ok || n == 0 {
		return o, Errorf(CodeInvalidField, field+"."+gname, "an integer > 0", "%s.%s must be an integer > 0, got %s", field, gname, describe(games))
	}
	rate := lookupMember(ms, "win_rate")
	if rate == nil {
		return o, Errorf(CodeMissingField, field+".win_rate", "a number in [0, 1]", "%s needs win_rate", field)
	}
	r, ok := asNumber(rate)
	if !ok || r < 0 || r > 1 {
		return o, Errorf(CodeInvalidField, field+".win_rate", "a number in [0, 1]", "%s.win_rate must be a number in [0, 1], got %s", field, describe(rate))
	}
	o.Games, o.WinRate = n, r
	return o, nil
}

// vsRates reads the Python workers' flat shape: vs_random_rate and/or
// vs_heuristic_rate with games_played split between them (an odd game goes to
// random; a single rate gets all games).
func vsRates(ms []member) ([]Opponent, *Error) {
	var out []Opponent
	for _, name := range []string{"random", "heuristic"} {
		key := "vs_" + name + "_rate"
		raw := lookupMember(ms, key)
		if raw == nil {
			continue
		}
		r, ok := asNumber(raw)
		if !ok || r < 0 || r > 1 {
			return nil, Errorf(CodeInvalidField, "payload."+key, "a number in [0, 1]", "payload.%s must be a number in [0, 1], got %s", key, describe(raw))
		}
		out = append(out, Opponent{Name: name, WinRate: r})
	}
	if len(out) == 0 {
		return nil, nil
	}
	raw := lookupMember(ms, "games_played")
	if raw == nil {
		return nil, Errorf(CodeMissingField, "payload.games_played", "an integer > 0: the games behind vs_random_rate / vs_heuristic_rate",
			"payload.vs_%s_rate needs payload.games_played", out[0].Name)
	}
	n, ok := asCount(raw)
	if !ok || n < int64(len(out)) {
		return nil, Errorf(CodeInvalidField, "payload.games_played", fmt.Sprintf("an integer ≥ %d", len(out)),
			"payload.games_played must be an integer ≥ %d (one game per rate at least), got %s", len(out), describe(raw))
	}
	if len(out) == 1 {
		out[0].Games = n
	} else {
		out[0].Games, out[1].Games = n-n/2, n/2 // random first: it gets the odd game
	}
	return out, nil
}
