package testenv

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

func TestVersityGW(t *testing.T) {
	srv := VersityGW(t)
	a, b := srv.CreateBucket(t, "Test/Some_Name"), srv.CreateBucket(t, "Test/Some_Name")
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	if a == b || !valid.MatchString(a) || !valid.MatchString(b) {
		t.Errorf("bucket names %q, %q: want distinct valid names", a, b)
	}
	st := srv.Store(t, a, "db")
	if files, err := st.List(context.Background(), 0, 0); err != nil || len(files) != 0 {
		t.Errorf("List of a new bucket = %v, %v", files, err)
	}
	if want := "s3://" + a + "/db?endpoint=" + srv.Endpoint(); !strings.HasPrefix(srv.URL(a, "db"), want) {
		t.Errorf("URL = %s, want prefix %s", srv.URL(a, "db"), want)
	}
	srv.Close()
	srv.Close() // idempotent, as Cleanup calls it again
	select {
	case <-srv.exited:
	default:
		t.Error("server still running after Close")
	}
}
