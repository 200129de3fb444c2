// Package dbcopy copies a SQLite database consistently, even while other
// processes write to it, using SQLite's online backup API.
package dbcopy

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// Copy copies the database at src to a new file dst page by page.
func Copy(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("database %s: %w", src, err)
	}
	srcDB, err := sql.Open("sqlite3", fileURI(src)+"?mode=ro")
	if err != nil {
		return err
	}
	defer srcDB.Close()
	dstDB, err := sql.Open("sqlite3", fileURI(dst))
	if err != nil {
		return err
	}
	defer dstDB.Close()
	srcConn, err := srcDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer srcConn.Close()
	dstConn, err := dstDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open %s: %w", dst, err)
	}
	defer dstConn.Close()
	return dstConn.Raw(func(d any) error {
		return srcConn.Raw(func(s any) error {
			return runBackup(d.(*sqlite3.SQLiteConn), s.(*sqlite3.SQLiteConn), src)
		})
	})
}

func runBackup(dst, src *sqlite3.SQLiteConn, srcName string) error {
	b, err := dst.Backup("main", src, "main")
	if err != nil {
		return fmt.Errorf("back up %s: %w", srcName, err)
	}
	for {
		done, err := b.Step(-1)
		if err != nil {
			b.Close()
			return fmt.Errorf("back up %s (is it a SQLite database?): %w", srcName, err)
		}
		if done {
			return b.Finish()
		}
	}
}

// fileURI names a path as a SQLite URI filename. '?', '#' and '%' in the
// path are escaped: unescaped, SQLite (and the driver) would read what
// follows them as parameters and open some other file.
func fileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
}
