//go:build !linux

package bench

import (
	"os"
	"syscall"
)

func childProcAttr() *syscall.SysProcAttr { return nil }

// peakRSS is not measured outside Linux: rusage units differ by system.
func peakRSS(*os.ProcessState) int64 { return 0 }
