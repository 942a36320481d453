package bench

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The raw-Pebble limits: what Pebble itself does with the same payloads on
// the same disk, measured in the same run as the journal.

func openRaw(dir string) (*pebble.DB, error) {
	return pebble.Open(dir, &pebble.Options{MemTableSize: 32 << 20, Logger: quietLogger{}})
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)           {}
func (quietLogger) Errorf(string, ...any)          {}
func (quietLogger) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

func rawKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = 'e'
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func (s *suite) pebbleLimits() error {
	if s.want("limit.pebble_sync_single") {
		if _, err := s.median("limit.pebble_sync_single.events_per_sec", func() (float64, error) {
			db, err := openRaw(s.tempDir())
			if err != nil {
				return 0, err
			}
			defer db.Close()
			const n = 1500
			start := time.Now()
			for i := 0; i < n; i++ {
				if err := db.Set(rawKey(uint64(i+1)), payload(i), pebble.Sync); err != nil {
					return 0, err
				}
			}
			return rate(n, time.Since(start)), nil
		}); err != nil {
			return err
		}
	}
	if s.want("limit.pebble_sync_c64") {
		if _, err := s.median("limit.pebble_sync_c64.events_per_sec", func() (float64, error) {
			db, err := openRaw(s.tempDir())
			if err != nil {
				return 0, err
			}
			defer db.Close()
			const writers, each = 64, 400
			d, err := concurrently(writers, each, func(_, k int) error {
				seq := uint64(k + 1)
				return db.Set(rawKey(seq), payload(int(seq)), pebble.Sync)
			})
			if err != nil {
				return 0, err
			}
			return rate(writers*each, d), nil
		}); err != nil {
			return err
		}
	}
	if s.want("limit.pebble_sync_batch1000") {
		if _, err := s.median("limit.pebble_sync_batch1000.events_per_sec", func() (float64, error) {
			db, err := openRaw(s.tempDir())
			if err != nil {
				return 0, err
			}
			defer db.Close()
			const batches = 200
			start := time.Now()
			for b := 0; b < batches; b++ {
				batch := db.NewBatch()
				for i := 0; i < 1000; i++ {
					seq := uint64(b*1000 + i + 1)
					_ = batch.Set(rawKey(seq), payload(int(seq)), nil)
				}
				if err := batch.Commit(pebble.Sync); err != nil {
					return 0, err
				}
				batch.Close()
			}
			return rate(batches*1000, time.Since(start)), nil
		}); err != nil {
			return err
		}
	}
	if s.want("limit.pebble_scan") {
		dir := s.tempDir()
		db, err := openRaw(dir)
		if err != nil {
			return err
		}
		defer db.Close()
		fmt.Fprintf(s.log, "writing %d raw events for the scan limit\n", s.scanEvents)
		for b := 0; b < s.scanEvents; b += 1000 {
			batch := db.NewBatch()
			for i := b; i < min(b+1000, s.scanEvents); i++ {
				_ = batch.Set(rawKey(uint64(i+1)), payload(i), nil)
			}
			if err := batch.Commit(pebble.NoSync); err != nil {
				return err
			}
			batch.Close()
		}
		if err := db.Flush(); err != nil {
			return err
		}
		if _, err := s.median("limit.pebble_scan.events_per_sec", func() (float64, error) {
			start := time.Now()
			it, err := db.NewIter(nil)
			if err != nil {
				return 0, err
			}
			n := 0
			var sink []byte
			for ok := it.First(); ok; ok = it.Next() {
				v, err := it.ValueAndErr()
				if err != nil {
					return 0, err
				}
				sink = append(sink[:0], v...)
				n++
			}
			if err := it.Close(); err != nil {
				return 0, err
			}
			return rate(n, time.Since(start)), nil
		}); err != nil {
			return err
		}
	}
	return nil
}

var configs = []string{
	"hex8_2p", "hex8_3p", "hex8_4p", "hexagonal_2p", "hexagonal_3p", "hexagonal_4p",
	"square19_2p", "square19_3p", "square19_4p", "square8_2p", "square8_3p", "square8_4p",
}

// payload returns a ~256-byte JSON payload for event i.
func payload(i int) []byte {
	return fmt.Appendf(nil, `{"games":%d,"config_key":%q,"generator":"gpu-selfplay-%02d","engine":"gumbel-mcts","batch_id":"b-%08d","avg_game_length":%d.%d,"sims":800,"temperature":1.0,"resign_threshold":-0.95,"db_path":"data/games/%s/part-%06d.db"}`,
		50+i%50, configs[i%len(configs)], i%32, i, 60+i%40, i%10, configs[i%len(configs)], i/1000)
}
