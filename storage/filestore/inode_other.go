//go:build !unix

package filestore

import "io/fs"

// inode is unknown here; size and modification time remain in the token.
func inode(fs.FileInfo) uint64 { return 0 }
