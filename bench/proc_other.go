//go:build !linux

package bench

import "syscall"

func childProcAttr() *syscall.SysProcAttr { return nil }

// highWater is not measured outside Linux.
func highWater() int64 { return 0 }
