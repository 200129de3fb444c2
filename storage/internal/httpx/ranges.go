package httpx

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/strata-db/strata/storage"
)

// RangeError is an answer to a Range request that does not hold the bytes
// asked for: a 200 with the whole object, or a Content-Range that starts or
// ends elsewhere. Reading on would put the wrong bytes where a page is
// expected, so the request fails, transiently: a proxy or CDN may do better
// next time. It matches storage.ErrServerFault.
type RangeError struct {
	Asked string // the Range header sent
	Got   string // what came back
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("server fault: asked for %s, got %s", e.Asked, e.Got)
}

// Unwrap marks the error as the server's fault, and transient.
func (e *RangeError) Unwrap() []error { return []error{storage.ErrServerFault, storage.ErrTransient} }

// checkRange verifies a 2xx answer to a request with a Range header (or
// Azure's x-ms-range) of the form bytes=first-[last].
func checkRange(req *http.Request, resp *http.Response) error {
	asked := req.Header.Get("Range")
	if asked == "" {
		asked = req.Header.Get("X-Ms-Range")
	}
	if asked == "" || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil
	}
	first, last, ok := parseRange(asked)
	if !ok {
		return nil // a form this package does not send
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		start, end, total, ok := parseContentRange(cr)
		if !ok {
			return &RangeError{Asked: asked, Got: fmt.Sprintf("206 with Content-Range %q", cr)}
		}
		want := last
		if total >= 0 && (last < 0 || last > total-1) {
			want = total - 1
		}
		if start != first || (want >= 0 && end != want) || (want < 0 && last >= 0 && end > last) {
			return &RangeError{Asked: asked, Got: "Content-Range " + cr}
		}
		return nil
	case http.StatusOK:
		// A 200 is the same bytes only when the range covers the whole object.
		if first == 0 && (last < 0 || (resp.ContentLength >= 0 && resp.ContentLength <= last+1)) {
			return nil
		}
		return &RangeError{Asked: asked, Got: fmt.Sprintf("200 with the whole object (%d bytes): the Range header was ignored", resp.ContentLength)}
	}
	return nil
}

// parseRange reads "bytes=first-last" or "bytes=first-" (last = -1).
func parseRange(s string) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(s, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found || a == "" {
		return 0, 0, false
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if b == "" {
		return first, -1, true
	}
	last, err = strconv.ParseInt(b, 10, 64)
	if err != nil || last < first {
		return 0, 0, false
	}
	return first, last, true
}

// parseContentRange reads "bytes start-end/total" (total "*" gives -1).
func parseContentRange(s string) (start, end, total int64, ok bool) {
	spec, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, size, found := strings.Cut(spec, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(a, 10, 64)
	end, err2 = strconv.ParseInt(b, 10, 64)
	total = -1
	if size != "*" {
		total, err3 = strconv.ParseInt(size, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || end < start {
		return 0, 0, 0, false
	}
	return start, end, total, true
}
