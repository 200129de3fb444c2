package testenv

import (
	"os"
	"syscall"
)

// sysProcAttr puts the server in its own process group, so Close can kill
// anything it spawned, and has the kernel kill it if the test binary dies
// without running cleanups (e.g. on a test timeout).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}
