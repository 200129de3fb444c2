package vfs

import (
	"path/filepath"
	"strings"
	"testing"
)

// hydrate=PATH names the file; hydrate=1 picks one per replica in the
// state directory, the same for every spelling of the replica's URL;
// STRATA_HYDRATE (Config.Hydrate) is the default a connection can turn
// off with hydrate=0.
func TestHydrateParameter(t *testing.T) {
	cfg := Config{BufferDir: "/state"}.withDefaults()
	for _, tc := range []struct {
		name    string
		cfg     string
		raw     map[string]string
		want    string // "" = off; "default" = the state directory's file
		wantErr string
	}{
		{name: "off by default", raw: map[string]string{}},
		{name: "a path", raw: map[string]string{"hydrate": "/data/shop.db"}, want: "/data/shop.db"},
		{name: "1", raw: map[string]string{"hydrate": "1"}, want: "default"},
		{name: "0", raw: map[string]string{"hydrate": "0"}},
		{name: "from the configuration", cfg: "1", raw: map[string]string{}, want: "default"},
		{name: "a configured path", cfg: "/data/x.db", raw: map[string]string{}, want: "/data/x.db"},
		{name: "turned off by the connection", cfg: "1", raw: map[string]string{"hydrate": "0"}},
		{name: "empty", raw: map[string]string{"hydrate": ""}, wantErr: "hydrate is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Hydrate = tc.cfg
			tc.raw["replica"] = "/replicas/shop"
			p, err := parseParams(tc.raw, c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "default" {
				want = filepath.Join("/state", "hydrated", bufferName(p.key)+".db")
			}
			if p.hydrate != want {
				t.Errorf("hydrate = %q, want %q", p.hydrate, want)
			}
		})
	}
	a, _ := parseParams(map[string]string{"replica": "/replicas/shop", "hydrate": "1"}, cfg)
	b, _ := parseParams(map[string]string{"replica": "file:///replicas/shop/", "hydrate": "1"}, cfg)
	c, _ := parseParams(map[string]string{"replica": "/replicas/other", "hydrate": "1"}, cfg)
	if a.hydrate != b.hydrate || a.hydrate == c.hydrate {
		t.Errorf("hydrate=1 paths: %q and %q for one replica, %q for another; want one per replica", a.hydrate, b.hydrate, c.hydrate)
	}
}
