package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-db/strata/bench/dataset"
	"github.com/strata-db/strata/bench/proxy"
	"github.com/strata-db/strata/internal/testenv"
)

// Dataset roles: S1 and S3 use the scan dataset; S2, S4 and S5 the
// (larger) lookup dataset.
const (
	scanData   = "scan"
	lookupData = "lookup"
)

// roleOf is the dataset scenario s runs on.
func roleOf(s string) string {
	if role, ok := compactionRole(s); ok {
		return role
	}
	if s == S1Open || s == S3Scan {
		return scanData
	}
	return lookupData
}

// meta describes the dataset of a role; zero if the run does not use it.
func (e *env) meta(role string) dataset.Meta {
	if d := e.datasets[role]; d != nil {
		return d.Meta
	}
	return dataset.Meta{}
}

// env is everything a run starts. close stops all of it, in reverse.
type env struct {
	cfg      Config
	work     string // server data, child temp dirs
	srv      *testenv.S3Server
	px       *proxy.Proxy
	bucket   string
	datasets map[string]*dataset.Dataset
	urls     map[string]string // dataset role -> replica URL via the proxy
}

// setup generates (or finds cached) datasets, starts versitygw and the
// proxy, and uploads the datasets directly to the server. On error,
// everything already started is stopped.
func setup(ctx context.Context, cfg Config, sz sizes) (e *env, err error) {
	e = &env{cfg: cfg, datasets: map[string]*dataset.Dataset{}, urls: map[string]string{}}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	mib := map[string]int{scanData: sz.Scan, lookupData: sz.Lookup}
	for _, s := range cfg.Scenarios {
		role := roleOf(s)
		if isWrite(s) || e.datasets[role] != nil {
			continue
		}
		if _, ok := compactionRole(s); ok {
			e.datasets[role], err = e.generateCompaction(ctx, role, sz.Scan)
		} else {
			e.datasets[role], err = e.generate(ctx, role, mib[role])
		}
		if err != nil {
			return e, err
		}
	}
	if e.work, err = os.MkdirTemp("", "strata-bench-"); err != nil {
		return e, err
	}
	gw := filepath.Join(e.work, "gw")
	if err = os.Mkdir(gw, 0o755); err != nil {
		return e, err
	}
	if e.srv, err = testenv.StartVersityGW(gw); err != nil {
		return e, err
	}
	if e.bucket, err = e.srv.NewBucket(ctx, "bench"); err != nil {
		return e, err
	}
	if e.px, err = proxy.New(e.srv.Endpoint(), proxy.Options{Latency: cfg.Latency, Bandwidth: cfg.Bandwidth}); err != nil {
		return e, err
	}
	if err = e.px.Start("127.0.0.1:0"); err != nil {
		return e, err
	}
	for role := range e.datasets {
		if err = e.upload(ctx, role); err != nil {
			return e, err
		}
	}
	return e, nil
}

func (e *env) generate(ctx context.Context, role string, mib int) (*dataset.Dataset, error) {
	p := dataset.Params{SizeMiB: mib, L0: e.cfg.L0, Seed: 1}
	e.logf("dataset %s: %s", role, p.Key())
	start := time.Now()
	d, err := dataset.Generate(ctx, e.cfg.CacheDir, p)
	if err != nil {
		return nil, err
	}
	if took := time.Since(start); took > time.Second {
		e.logf("dataset %s: generated in %s", role, took.Round(time.Millisecond))
	}
	return d, nil
}

// upload copies a dataset to the server without the proxy, so setup does
// not pay the injected latency, and records its URL through the proxy.
func (e *env) upload(ctx context.Context, role string) error {
	st, err := e.srv.OpenStore(ctx, e.bucket, role)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	n, err := e.datasets[role].Upload(ctx, st)
	if err != nil {
		return fmt.Errorf("upload dataset %s: %w", role, err)
	}
	e.logf("dataset %s: uploaded %d files in %s", role, n, time.Since(start).Round(time.Millisecond))
	e.urls[role], err = viaProxy(e.srv.URL(e.bucket, role), e.px.URL())
	return err
}

// viaProxy rewrites the endpoint of an s3:// replica URL to the proxy.
func viaProxy(replicaURL, proxyURL string) (string, error) {
	u, err := url.Parse(replicaURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("endpoint", proxyURL)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// close stops the proxy and the server and removes the work directory
// (unless -keep).
func (e *env) close() {
	var errs []error
	if e.px != nil {
		errs = append(errs, e.px.Close())
	}
	if e.srv != nil {
		e.srv.Close()
	}
	if e.work != "" {
		if e.cfg.Keep {
			e.logf("kept work directory %s", e.work)
		} else {
			errs = append(errs, os.RemoveAll(e.work))
		}
	}
	if err := errors.Join(errs...); err != nil {
		e.logf("cleanup: %v", err)
	}
}

// logf reports progress on stderr, which the result table never uses.
func (e *env) logf(format string, args ...any) {
	if e.cfg.Stderr != nil {
		fmt.Fprintf(e.cfg.Stderr, "bench: "+format+"\n", args...)
	}
}
