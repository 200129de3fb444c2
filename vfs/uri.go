package vfs

import (
	"fmt"
	"strings"
)

// URI returns a SQLite URI filename that opens replicaURL through the
// strata VFS, with extra URI parameters given as name, value pairs (e.g.
// "time", "5 minutes ago", or "write", "1"). Values are percent-encoded
// the way SQLite decodes them: it reads %XX but, unlike HTML forms, not '+'.
// The replica is read-only unless the parameters (or Config.Write) say
// write=1.
func URI(replicaURL string, params ...string) string {
	q := []string{"vfs=" + Name, "replica=" + uriEscape(replicaURL)}
	for i := 0; i+1 < len(params); i += 2 {
		q = append(q, params[i]+"="+uriEscape(params[i+1]))
	}
	return "file:strata.db?" + strings.Join(q, "&")
}

func uriEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~/:", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
