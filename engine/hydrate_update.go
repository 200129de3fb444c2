package engine

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/strata-db/strata/hydrate"
	"github.com/strata-db/strata/internal/safe"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// How the hydrator brings the file to the latest stored state:
//
//   - a file that holds no usable state (new, a restore under way, another
//     page size, ahead of the replica) is restored from a plan of the
//     latest state, resuming a restore of the same plan (package hydrate);
//   - a file at an older TXID is updated with the pages that changed
//     since: the sources of the views published since (recorded by
//     Database.publish), or after a restart the files that a listing
//     chains from the file's TXID. Each changed page is written once, in
//     its newest version, taken from the page cache when there (the poller
//     and the writer put new pages there), else from its file, downloaded
//     whole and verified;
//   - when the files after the file's TXID are gone (compacted), the file
//     is restored anew from a fresh plan.

// errNoChain: no chain of stored files leads from the file's TXID to the
// latest state.
var errNoChain = errors.New("no chain of files from the hydrated state to the latest")

// maxBackoff bounds the wait before retrying after a storage error.
const maxBackoff = 30 * time.Second

// run keeps the file at the latest stored state until ctx ends or the file
// fails (a full disk, an I/O error: hydration stops, reads stay remote).
// files, when not nil, is the open's listing: the file is restored from
// it first, while the open indexes the replica.
func (h *hydration) run(ctx context.Context, files []storage.FileInfo) {
	defer close(h.done)
	var backoff time.Duration
	for {
		if h.failed() {
			h.serve(nil)
			return
		}
		var current bool
		err := safe.Call("hydrate", func() (err error) {
			if files != nil {
				listed := files
				files = nil
				return h.planAround(h.restore(ctx, listed, 0))
			}
			select {
			case <-h.db.opened:
			case <-ctx.Done():
				return ctx.Err()
			}
			current, err = h.step(ctx)
			return err
		})
		if ctx.Err() != nil {
			return
		}
		var fe *hydrate.FileError
		var pe *safe.PanicError
		switch {
		case errors.As(err, &fe) || errors.As(err, &pe):
			h.serve(nil)
			h.setFailed(err)
			h.db.log.Error("hydration stopped; reads are served remotely", "path", h.path, "err", err)
			return
		case err != nil:
			backoff = min(max(2*backoff, time.Second), maxBackoff)
			h.setError(err)
			h.db.log.Warn("hydration step failed; retrying", "path", h.path, "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		h.setError(nil)
		if current {
			select {
			case <-ctx.Done():
				return
			case <-h.wake:
			}
		}
	}
}

// step brings the file one step closer to the latest stored state. It
// reports whether the file is there (nothing to do until the next
// publish).
func (h *hydration) step(ctx context.Context) (bool, error) {
	latest := storedView(h.db.Latest())
	if latest.txid == 0 {
		return true, nil // nothing to hydrate yet (an empty replica)
	}
	st := h.file.State()
	usable := (st.Phase == hydrate.Complete || st.Phase == hydrate.Updating) &&
		st.PageSize == latest.pageSize && st.TXID <= latest.txid
	var err error
	switch {
	case usable && st.Phase == hydrate.Complete && st.TXID == latest.txid:
		h.mu.RLock()
		v := h.view
		h.mu.RUnlock()
		if v == nil || v.txid != latest.txid {
			h.serve(latest)
		}
		h.setComplete(st.TXID)
		return true, nil
	case usable:
		err = h.catchUp(ctx, st.TXID, latest)
		if errors.Is(err, errNoChain) || errors.Is(err, storage.ErrNotFound) {
			h.db.log.Info("the files after the hydrated state are gone (compacted?); restoring the file anew", "path", h.path, "txid", st.TXID, "err", err)
			err = h.restore(ctx, nil, latest.txid)
		}
	default:
		err = h.restore(ctx, nil, latest.txid)
	}
	return false, h.planAround(err)
}

// planAround leaves a file found corrupt out of later plans (the next step
// plans without it), and passes other errors on.
func (h *hydration) planAround(err error) error {
	var ce *replica.CorruptError
	if errors.As(err, &ce) {
		h.db.log.Error("corrupt LTX file; hydrating around it", "err", err)
		h.db.bad.Add(ce.File)
		return nil
	}
	return err
}

// restore restores the whole database into the file: the restore of the
// same plan that stopped, if its files are all still there, else a plan
// of TXID txid (0: the latest) from files (nil: a new listing).
func (h *hydration) restore(ctx context.Context, files []storage.FileInfo, txid ltx.TXID) error {
	h.serve(nil)
	db := h.db
	var err error
	if files == nil {
		if files, err = db.rep.Files(ctx); err != nil {
			return err
		}
	}
	files = db.bad.Filter(files)
	plan, resumed := resumable(h.file.State(), files)
	if !resumed {
		target := replica.Latest()
		if txid != 0 {
			target = replica.AtTXID(txid)
		}
		if plan, err = db.rep.PlanFiles(ctx, files, target); err != nil {
			return err
		}
	}
	h.setRunning(plan.TXID)
	start := time.Now()
	last := int64(-1)
	var local int64 // bytes of files whose pages came from the cache, not yet reported
	progress := func(done, total int64) {
		h.pmu.Lock()
		defer h.pmu.Unlock()
		if last >= 0 {
			h.prog.Downloaded += done - last - local // the first call counts what was restored before
		}
		last, local = done, 0
		h.prog.Bytes, h.prog.Total = done, total
		h.prog.Percent = 100 * float64(done) / float64(max(total, 1))
	}
	offer := h.cachedFiles(ctx, plan, func(n int64) {
		h.pmu.Lock()
		local += n
		h.pmu.Unlock()
	})
	err = h.file.Restore(ctx, db.rep, plan, hydrate.RestoreOptions{Progress: progress, Local: offer})
	if err != nil {
		return err
	}
	h.setComplete(plan.TXID)
	db.log.Info("hydration complete", "path", h.path, "txid", plan.TXID, "files", len(plan.Files),
		"bytes", h.Progress().Bytes, "resumed", resumed, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// cachedFiles offers the planned files whose pages are in the page cache,
// so that a restore does not download them again: the open read the small
// files of the plan whole (verified) and cached the pages that are current
// in the latest view. Only those pages are offered, which is enough when
// the latest view is the plan's state built from the plan's files: the
// others are overwritten, or dropped by a shrink, later in the plan.
// used is told the size of each file offered.
func (h *hydration) cachedFiles(ctx context.Context, plan replica.Plan, used func(int64)) func(storage.FileInfo) (ltx.Header, func(func(uint32, []byte) error) error, bool) {
	db := h.db
	var v *View // the latest view, once it is known to be the plan's
	checked := false
	return func(f storage.FileInfo) (ltx.Header, func(func(uint32, []byte) error) error, bool) {
		if !checked {
			checked = true
			// A restore that started with the open waits for it here,
			// with the plan's first file applied: the open's downloads
			// are then the restore's.
			select {
			case <-db.opened:
			case <-ctx.Done():
				return ltx.Header{}, nil, false
			}
			if latest := storedView(db.Latest()); latest.txid == plan.TXID && builtFrom(latest, plan.Files) {
				v = latest
			}
		}
		s, ok := db.indexes.Get(f.Key())
		if v == nil || !ok || !s.whole {
			return ltx.Header{}, nil, false // only pages of files verified whole stand for the file
		}
		var pgnos []uint32
		var pages [][]byte
		for _, fr := range s.file.Frames {
			if loc := v.lookup(fr.Pgno); loc.src == nil || loc.src.key() != s.key() {
				continue // a later planned file writes it, or a shrink drops it
			}
			page, ok := db.cache.peek(pageKey{s.key(), fr.Pgno})
			if !ok {
				return ltx.Header{}, nil, false
			}
			pgnos, pages = append(pgnos, fr.Pgno), append(pages, page)
		}
		return s.file.Header, func(put func(uint32, []byte) error) error {
			used(f.Size)
			for i, pgno := range pgnos {
				if err := put(pgno, pages[i]); err != nil {
					return err
				}
			}
			return nil
		}, true
	}
}

// builtFrom reports whether every page of v lives in one of files.
func builtFrom(v *View, files []storage.FileInfo) bool {
	keys := make(map[storage.FileKey]bool, len(files))
	for _, f := range files {
		keys[f.Key()] = true
	}
	for _, chunk := range v.chunks {
		for _, loc := range chunk {
			if loc.src != nil && (loc.src.file == nil || !keys[loc.src.key()]) {
				return false
			}
		}
	}
	return true
}

// resumable is the plan of a restore that stopped, if every one of its
// files is still listed.
func resumable(st hydrate.State, files []storage.FileInfo) (replica.Plan, bool) {
	if st.Phase != hydrate.Restoring || len(st.Plan) == 0 {
		return replica.Plan{}, false
	}
	byName := make(map[string]storage.FileInfo, len(files))
	for _, f := range files {
		byName[f.String()] = f
	}
	plan := replica.Plan{TXID: st.Target}
	for _, name := range st.Plan {
		f, ok := byName[name]
		if !ok {
			return replica.Plan{}, false
		}
		plan.Files = append(plan.Files, f)
	}
	return plan, true
}

// catchUp updates the file from TXID from to the latest stored state.
func (h *hydration) catchUp(ctx context.Context, from ltx.TXID, latest *View) error {
	if from >= latest.txid {
		return errNoChain // an update to a state the replica no longer has
	}
	srcs, ok := h.fromQueue(from, latest.txid)
	var data [][]byte
	if !ok {
		files, err := h.listChain(ctx, from, latest.txid)
		if err != nil {
			return err
		}
		if srcs, data, err = h.db.indexAll(ctx, files); err != nil {
			return err
		}
	}
	return h.update(ctx, srcs, data, latest)
}

// fromQueue chains the recorded publishes from TXID from to TXID to: their
// sources, if they chain.
func (h *hydration) fromQueue(from, to ltx.TXID) ([]*source, bool) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	var srcs []*source
	cur := from
	for _, t := range h.queue {
		if t.from != cur {
			continue
		}
		if t.srcs == nil {
			return nil, false // a re-plan: which files it took is not known
		}
		srcs = append(srcs, t.srcs...)
		if cur = t.to; cur == to {
			return srcs, true
		}
	}
	return nil, false
}

// listChain lists the files that lead from TXID from to TXID to: level-0
// files, and level-1 files across a gap, as the poller chains them.
func (h *hydration) listChain(ctx context.Context, from, to ltx.TXID) ([]storage.FileInfo, error) {
	db := h.db
	l0, err := db.rep.List(ctx, 0, from+1)
	if err != nil {
		return nil, err
	}
	chain := extend(from, db.bad.Filter(l0), nil)
	if len(chain) == 0 || chain[len(chain)-1].MaxTXID < to {
		l1, err := db.rep.List(ctx, 1, 0)
		if err != nil {
			return nil, err
		}
		chain = extend(from, db.bad.Filter(l0), db.bad.Filter(l1))
	}
	for i, f := range chain {
		if f.MaxTXID == to {
			return chain[:i+1], nil
		}
		if f.MaxTXID > to {
			break // a compacted file across the latest state: no exact chain
		}
	}
	return nil, errNoChain
}

// update brings the file from the state it holds to target by writing the
// newest version of each page srcs (the files from the file's TXID to
// target's, in order) change. data[i], when not nil, is srcs[i]'s whole
// file, already downloaded.
func (h *hydration) update(ctx context.Context, srcs []*source, data [][]byte, target *View) error {
	db := h.db
	st := h.file.State()
	newest, floor := newestPages(srcs, st.Pages)
	h.mu.Lock()
	from := h.view
	h.dirty, h.floor = newest, floor
	h.mu.Unlock()
	done := false
	defer func() {
		if !done {
			h.serve(nil) // mid-update: nothing in the file is known to be any state's
		}
	}()
	h.preserve(from, newest, floor, st.Pages)
	u, err := h.file.BeginUpdate(target.txid, target.pageSize)
	if err != nil {
		return err
	}
	if floor < st.Pages {
		if err := u.Truncate(floor); err != nil {
			return err
		}
	}
	// Pages in the cache first; the files of the others are read whole.
	need := make([]bool, len(srcs))
	for _, pgno := range slices.Sorted(maps.Keys(newest)) {
		i := newest[pgno]
		if page, ok := db.cache.peek(pageKey{srcs[i].key(), pgno}); ok {
			if err := u.WritePage(pgno, page); err != nil {
				return err
			}
		} else {
			need[i] = true
		}
	}
	var fetch []storage.FileInfo
	var fetchSrc []int
	for i, s := range srcs {
		if !need[i] {
			continue
		}
		if i < len(data) && data[i] != nil {
			put := func(pgno uint32, page []byte) error {
				if j, ok := newest[pgno]; ok && j == i {
					return u.WritePage(pgno, page)
				}
				return nil
			}
			if _, err := db.rep.DecodeFile(ctx, s.file.File, data[i], put); err != nil {
				return err
			}
			continue
		}
		fetch, fetchSrc = append(fetch, s.file.File), append(fetchSrc, i)
	}
	if len(fetch) > 0 {
		cur := 0 // the file of fetch whose pages are being handed out
		err := db.rep.ApplyFiles(ctx, fetch, replica.ApplyOptions{Parallel: hydrate.Parallel}, func(pgno uint32, page []byte) error {
			if j, ok := newest[pgno]; ok && j == fetchSrc[cur] {
				return u.WritePage(pgno, page)
			}
			return nil
		}, func(i int, _ ltx.Header) error {
			cur = i + 1
			h.pmu.Lock()
			h.prog.Downloaded += fetch[i].Size
			h.pmu.Unlock()
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := u.Commit(target.commit); err != nil {
		return err
	}
	h.serve(target)
	done = true
	h.dropQueue(target.txid)
	h.setComplete(target.txid)
	db.log.Debug("hydrated file updated", "path", h.path, "txid", target.txid, "pages", len(newest), "downloaded_files", len(fetch))
	return nil
}

// newestPages maps each page srcs change to the index of the last source
// that holds it, leaving out pages a later shrink dropped; floor is the
// lowest database size on the way (pages above it that no later source
// writes read as zeros). pages is the size before srcs.
func newestPages(srcs []*source, pages uint32) (newest map[uint32]int, floor uint32) {
	newest = make(map[uint32]int)
	floor, size := pages, pages
	for i, s := range srcs {
		for _, fr := range s.file.Frames {
			newest[fr.Pgno] = i
		}
		c := s.file.Header.Commit
		if c < size {
			for pgno := range newest {
				if pgno > c {
					delete(newest, pgno)
				}
			}
			floor = min(floor, c)
		}
		size = c
	}
	return newest, floor
}

// preserve copies into the page cache the versions of the pages an update
// is about to overwrite or drop, under the keys of the view the file held
// (from), when transactions are pinned: one that pinned from (or an older
// view sharing those versions) then reads them from the cache rather than
// from storage. Bounded to a quarter of the cache; past it, they are
// fetched again if read.
func (h *hydration) preserve(from *View, newest map[uint32]int, floor, pages uint32) {
	db := h.db
	if from == nil || db.readers.Load() == 0 {
		return
	}
	budget := db.opts.CacheSize / 4
	keep := func(pgno uint32) bool {
		if pgno > from.commit {
			return true
		}
		loc := from.lookup(pgno)
		if loc.src == nil || loc.src.file == nil {
			return true
		}
		k := pageKey{loc.src.key(), pgno}
		if db.cache.contains(k) {
			return true
		}
		page := make([]byte, from.pageSize)
		if err := h.file.ReadPage(pgno, page); err != nil {
			return false
		}
		db.cache.add(k, page)
		budget -= int64(from.pageSize)
		return budget > 0
	}
	for pgno := range newest {
		if !keep(pgno) {
			return
		}
	}
	for pgno := floor + 1; pgno <= min(pages, from.commit); pgno++ {
		if _, ok := newest[pgno]; !ok && !keep(pgno) {
			return
		}
	}
}

// dropQueue forgets the publishes the file now includes.
func (h *hydration) dropQueue(txid ltx.TXID) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	h.queue = slices.DeleteFunc(h.queue, func(t transition) bool { return t.to <= txid })
}

// Progress reports this hydration's progress.
func (h *hydration) Progress() Hydration {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	return h.prog
}

func (h *hydration) setRunning(target ltx.TXID) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	h.prog.State, h.prog.TXID, h.prog.Percent, h.prog.Bytes, h.prog.Total = HydrationRunning, target, 0, 0, 0
}

func (h *hydration) setComplete(txid ltx.TXID) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	if h.prog.State == HydrationFailed {
		return
	}
	h.prog.State, h.prog.TXID, h.prog.Percent = HydrationComplete, txid, 100
	if h.prog.Bytes < h.prog.Total {
		h.prog.Bytes = h.prog.Total
	}
}

// setError records why the last step failed (nil: it did not); the
// hydrator retries.
func (h *hydration) setError(err error) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	if h.prog.State == HydrationFailed {
		return
	}
	h.prog.Error = ""
	if err != nil {
		h.prog.Error = err.Error()
	}
}
