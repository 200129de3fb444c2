package bench

import (
	"os"
	"syscall"
)

// childProcAttr has the kernel kill a child run if the harness dies
// without cleaning up (kill -9, a crash).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// peakRSS is the child's maximum resident set size in bytes (Linux
// reports KiB).
func peakRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}
