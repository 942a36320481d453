package projections_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ringrift/ringriftd/event"
	"github.com/ringrift/ringriftd/projections"
)

// The Elo projection folds evaluations and promotions into ratings; its
// JSON, read back through EloConfigView, is what GET /v1/elo/{config}
// answers. An evaluation without "elo" rates the model by its performance
// against rated opponents (random 400, heuristic 1200).
func Example() {
	elo := projections.NewElo()
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, raw := range []string{
		`{"type":"evaluation_completed","config_key":"hex8_2p","payload":{"model_path":"m1.pth",` +
			`"opponents":{"heuristic":{"games":100,"win_rate":0.5}}}}`,
		`{"type":"model_promoted","config_key":"hex8_2p","payload":{"model_path":"m1.pth"}}`,
	} {
		e, err := event.Decode([]byte(raw))
		if err != nil {
			panic(err)
		}
		e.Time = at
		elo.Apply(&e)
	}
	b, _ := projections.EloConfigJSON(elo, "hex8_2p")
	var v projections.EloConfigView
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	fmt.Println(v.Champion, *v.ChampionElo, v.Ratings["m1.pth"].Games)
	// Output:
	// m1.pth 1200 100
}
