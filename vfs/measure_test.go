package vfs_test

import (
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
)

// TestMeasureFixtureCount logs what opening the fixture and counting its
// orders costs from a directory: cold (no state for the replica in the
// process), warm (a new connection while another keeps the state open)
// and the cache hit rate. Request counts against S3 are measured in the
// integration package, where a proxy sees every request.
func TestMeasureFixtureCount(t *testing.T) {
	states := fixture.Truth(t)
	url := "file://" + fixture.CopyReplica(t)
	want := states[len(states)-1].Count

	countOnce := func() time.Duration {
		t.Helper()
		start := time.Now()
		db := open(t, url)
		c := conn(t, db)
		if n := scalar[int64](t, c, `select count(*) from orders`); n != want {
			t.Fatalf("count = %d, want %d", n, want)
		}
		return time.Since(start)
	}

	cold := countOnce()
	s1, _ := strata.Stats(url)
	warm := countOnce() // the first connection is still open: shared state
	s2, _ := strata.Stats(url)
	hits, misses := s2.CacheHits-s1.CacheHits, s2.Misses-s1.Misses
	t.Logf("file replica: cold open + count(*) %s (%d page fetches); warm %s (%d hits, %d misses, hit rate %.0f%%)",
		cold.Round(10*time.Microsecond), s1.Misses, warm.Round(10*time.Microsecond), hits, misses, 100*float64(hits)/float64(max(hits+misses, 1)))
	if misses != 0 {
		t.Errorf("warm count(*) fetched %d pages; the shared cache should hold them", misses)
	}
}
