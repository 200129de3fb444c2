package replica

import "time"

// SetClock makes b read the time from now (tests move it).
func (b *BadFiles) SetClock(now func() time.Time) { b.now = now }
