package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ControlPath is where the proxy answers for itself instead of forwarding:
// GET ControlPath+"stats" returns Stats as JSON, POST ControlPath+"reset"
// resets them. S3 bucket names cannot contain "_", so no bucket collides.
// Benchmark child processes use it to measure their own phases.
const ControlPath = "/_bench/"

func (p *Proxy) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case ControlPath + "stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.Stats())
	case ControlPath + "reset":
		if r.Method != http.MethodPost {
			http.Error(w, "reset wants POST", http.StatusMethodNotAllowed)
			return
		}
		p.Reset()
	default:
		http.NotFound(w, r)
	}
}

// controlClient never goes through a proxy from the environment: the
// control endpoint is always on loopback.
var controlClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{Proxy: nil},
}

// FetchStats reads the Stats of the proxy at baseURL through its control
// endpoint, from another process.
func FetchStats(ctx context.Context, baseURL string) (Stats, error) {
	var s Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+ControlPath+"stats", nil)
	if err != nil {
		return s, err
	}
	resp, err := controlClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("bench proxy stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("bench proxy stats: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("bench proxy stats: %w", err)
	}
	return s, nil
}
