package absstore

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/strata-db/strata/storage"
)

// The environment variables an abs:// replica reads: Azure's own names, and
// Litestream's names for the key and the SAS token.
const (
	AccountEnv          = "AZURE_STORAGE_ACCOUNT"
	KeyEnv              = "AZURE_STORAGE_KEY"
	ConnectionStringEnv = "AZURE_STORAGE_CONNECTION_STRING"
	SASTokenEnv         = "AZURE_STORAGE_SAS_TOKEN"
	LitestreamKeyEnv    = "LITESTREAM_AZURE_ACCOUNT_KEY"
	LitestreamSASEnv    = "LITESTREAM_AZURE_SAS_TOKEN"
)

// location is what an abs:// URL says.
type location struct {
	account   string // storage account; "" when a connection string names it
	container string
	prefix    string // no leading or trailing slash; may be empty
	endpoint  string // the service URL; "" means https://<account>.blob.core.windows.net
	timeout   time.Duration
}

var spellings = map[string]string{"endpoint": "endpoint", "timeout": "timeout"}

// parseURL reads abs://[account@]container/prefix?endpoint=URL, the form
// Litestream accepts. Without an account in the URL, AZURE_STORAGE_ACCOUNT
// names it (or the connection string does).
func parseURL(u *url.URL) (location, error) {
	var loc location
	bad := func(format string, args ...any) (location, error) {
		return loc, fmt.Errorf("abs URL %q: %s", storage.RedactURL(u.String()), fmt.Sprintf(format, args...))
	}
	switch {
	case u.Scheme != "abs":
		return bad("scheme must be abs")
	case u.Opaque != "":
		return bad("malformed (want abs://account@container/prefix)")
	case u.Host == "":
		return bad("no container (want abs://account@container/prefix)")
	case u.Fragment != "":
		return bad("a fragment (#...) is not allowed")
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return bad("credentials do not belong in the URL; use %s", KeyEnv)
		}
		loc.account = u.User.Username()
	}
	if loc.account == "" {
		loc.account = os.Getenv(AccountEnv)
	}
	loc.container = u.Host
	loc.prefix = strings.Trim(path.Clean("/"+u.Path), "/")
	q, err := storage.Params(u, spellings)
	if err != nil {
		return bad("%v", err)
	}
	if e := q["endpoint"]; e != "" {
		if loc.endpoint, err = storage.ParseEndpoint(e); err != nil {
			return bad("%v", err)
		}
	}
	if loc.account == "" && loc.endpoint == "" && os.Getenv(ConnectionStringEnv) == "" {
		return bad("no storage account: write abs://ACCOUNT@%s/... or set %s (or %s)", loc.container, AccountEnv, ConnectionStringEnv)
	}
	if loc.timeout, err = storage.RequestTimeout(q["timeout"]); err != nil {
		return bad("%v", err)
	}
	return loc, nil
}

// serviceURL is where requests go.
func (l location) serviceURL() string {
	if l.endpoint != "" {
		return l.endpoint
	}
	return "https://" + l.account + ".blob.core.windows.net"
}

// String is the URL in canonical form, never with credentials.
func (l location) String() string {
	s, q := l.parts()
	if q == "" {
		return s
	}
	raw, _ := url.QueryUnescape(q)
	return s + "?" + raw
}

// key is String with the query escaped: equal keys, one replica.
func (l location) key() string {
	s, q := l.parts()
	if q == "" {
		return s
	}
	return s + "?" + q
}

func (l location) parts() (string, string) {
	s := "abs://"
	if l.account != "" {
		s += l.account + "@"
	}
	s += l.container
	if l.prefix != "" {
		s += "/" + l.prefix
	}
	if l.endpoint == "" {
		return s, ""
	}
	return s, url.Values{"endpoint": {l.endpoint}}.Encode()
}

// root is the name prefix of everything in the replica.
func (l location) root() string {
	if l.prefix == "" {
		return ""
	}
	return l.prefix + "/"
}

func (l location) objectURL(key string) string {
	return "abs://" + l.container + "/" + key
}

// CanonicalURL writes an abs:// URL one way, without any I/O.
func CanonicalURL(u *url.URL) (string, error) {
	l, err := parseURL(u)
	if err != nil {
		return "", err
	}
	return l.key(), nil
}
