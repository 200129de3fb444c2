package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
)

// requests is a snapshot of a proxy's counters.
type requests struct{ lists, gets int64 }

func (r requests) String() string {
	return fmt.Sprintf("%d requests (%d LIST, %d GET)", r.lists+r.gets, r.lists, r.gets)
}

func (p *faultProxy) counts() requests { return requests{p.lists.Load(), p.gets.Load()} }

// TestMeasureOpenAndCount logs what it costs to open the fixture on S3 and
// run select count(*): requests and wall time cold (no state in the
// process) and warm (a new connection while another keeps the state), at
// no added latency and at a 20 ms round trip, and the cache hit rate.
func TestMeasureOpenAndCount(t *testing.T) {
	states := fixture.Truth(t)
	want := states[len(states)-1].Count
	srv, bucket, prefix := fixtureOnS3(t)
	v := strataVFS(t)

	for _, rtt := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(fmt.Sprintf("rtt %s", rtt), func(t *testing.T) {
			proxy := newFaultProxy(t, srv.Endpoint())
			proxy.set(faults{Latency: rtt})
			url := s3URL(proxy.URL(), bucket, prefix)

			count := func() (time.Duration, requests) {
				proxy.resetCounts()
				start := time.Now()
				db := openReplica(t, url, "poll_interval", "1h") // no polls inside the measurement
				c, err := db.Conn(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if n := mustScalar[int64](t, c, `select count(*) from orders`); n != want {
					t.Fatalf("count = %d, want %d", n, want)
				}
				return time.Since(start), proxy.counts()
			}
			coldTime, cold := count()
			s1, _ := v.Stats(url)
			warmTime, warm := count()
			s2, _ := v.Stats(url)
			hits, misses := s2.CacheHits-s1.CacheHits, s2.Misses-s1.Misses
			t.Logf("cold: %s, %s; warm: %s, %s; warm cache hit rate %.0f%% (%d hits, %d misses); %d pages cached",
				coldTime.Round(100*time.Microsecond), cold, warmTime.Round(100*time.Microsecond), warm,
				100*float64(hits)/float64(max(hits+misses, 1)), hits, misses, s2.CacheEntries)
			if warm.lists+warm.gets != 0 {
				t.Errorf("warm count(*) made %s; the shared state should answer it", warm)
			}
		})
	}
}

// Ten connections to one replica poll it as one: the listing rate is that
// of a single poller (two LISTs, levels 0 and 1, per interval), not ten.
func TestTenConnectionsPollAsOne(t *testing.T) {
	srv, bucket, prefix := fixtureOnS3(t)
	proxy := newFaultProxy(t, srv.Endpoint())
	db := openReplica(t, s3URL(proxy.URL(), bucket, prefix)) // polls every 100ms
	db.SetMaxOpenConns(10)
	for range 10 {
		c, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		mustOrders(t, c)
	}
	proxy.resetCounts()
	const window = time.Second
	time.Sleep(window) // a measurement window, not a wait for a condition
	lists := proxy.lists.Load()
	polls := window / (100 * time.Millisecond)
	t.Logf("ten open connections made %d LIST requests in %s (one poller: about %d)", lists, window, 2*polls)
	if lists > int64(4*polls) {
		t.Errorf("%d LIST requests in %s: more than one poller", lists, window)
	}
	if lists == 0 {
		t.Error("no polling at all")
	}
}
