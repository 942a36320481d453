package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ringrift/ringriftd/projections"
	"github.com/ringrift/ringriftd/replay"
)

// Rebuild folds a source — here an export read as NDJSON — up to a point
// and renders the projections as they were then.
func Example() {
	export := strings.Join([]string{
		`{"seq":1,"type":"new_games","config_key":"hex8_2p","time":"2026-11-22T10:00:00Z","payload":{"games":600}}`,
		`{"seq":2,"type":"sync_completed","time":"2026-11-22T10:01:00Z","payload":{}}`,
		`{"seq":3,"type":"training_threshold","config_key":"hex8_2p","source":"ringriftd/threshold","time":"2026-11-22T10:01:00Z","payload":{"games":600}}`,
	}, "\n")
	for _, at := range []replay.Point{{Seq: 2}, {}} {
		src := replay.NewReader("export.ndjson", strings.NewReader(export)) // a stream reads once
		p, err := replay.Rebuild(context.Background(), src, at, replay.FoldOptions{})
		if err != nil {
			panic(err)
		}
		var pipes projections.PipelinesView
		if err := json.Unmarshal(p.Pipelines, &pipes); err != nil {
			panic(err)
		}
		fmt.Println("at seq", p.At.Seq, pipes["hex8_2p"].State)
	}
	// Output:
	// at seq 2 collecting
	// at seq 3 training_ready
}
