package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// childProcAttr has the kernel kill a child run if the harness dies
// without cleaning up (kill -9, a crash).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// highWater is this process's peak resident set size in bytes (VmHWM).
// The child reports it itself: the rusage maximum the parent sees after
// wait also counts the parent's own memory, which the child shared between
// fork and exec, so after a large dataset generation every child would
// seem to have used that much.
func highWater() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kib << 10
			}
		}
	}
	return 0
}
