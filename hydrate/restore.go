package hydrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Checkpoints of a restore: how much may be applied and not yet recorded
// in the sidecar, which a restart after a crash downloads again (a restore
// that stops otherwise records all it applied). Each costs a sync of the
// file, which stalls the restore while the disk catches up: a few seconds'
// worth of work between them keeps that small.
const (
	checkpointEvery = 5 * time.Second
	checkpointBytes = 256 << 20
)

// Parallel is how many files a restore downloads ahead of the one it
// applies (replica.ApplyFiles): as many as `strata restore` does.
const Parallel = 8

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Progress, when set, is called with the bytes of the plan's files
	// applied so far and their total.
	Progress func(done, total int64)
	// Local, when set, may offer the pages of a planned file from
	// elsewhere (a cache of the pages a reader already fetched), so that
	// the file is not downloaded: it returns the file's header and a
	// function that writes the pages with put, or ok false. It only needs
	// to offer the pages that are still current at the plan's end: the
	// others are overwritten later in the plan. It is asked once the
	// plan's first file is applied.
	Local func(f storage.FileInfo) (hdr ltx.Header, write func(put func(pgno uint32, data []byte) error) error, ok bool)
}

// Restore brings the file to the state of plan (which starts with a full
// file: a snapshot, or a file from TXID 1). A restore of the same plan that
// stopped (a crash, a close, a full disk) resumes after the last file the
// sidecar records; any other content is restored anew. Every file that is
// downloaded is read whole and its checksum verified.
func (h *File) Restore(ctx context.Context, rep *replica.Replica, plan replica.Plan, opts RestoreOptions) error {
	if len(plan.Files) == 0 {
		return errors.New("restore of an empty plan")
	}
	names := make([]string, len(plan.Files))
	var total int64
	for i, f := range plan.Files {
		names[i] = f.String()
		total += f.Size
	}
	s := h.state
	if s.Phase != Restoring || s.Target != plan.TXID || !slices.Equal(s.Plan, names) || s.Applied > len(names) {
		// Nothing to resume: start over from an empty file.
		if err := h.resize(0, 1); err != nil {
			return err
		}
		s = State{Phase: Restoring, Target: plan.TXID, Plan: names}
		if err := h.save(s); err != nil {
			return err
		}
	}
	r := &restoreRun{h: h, state: s, lastSave: time.Now(), files: plan.Files, total: total, progress: opts.Progress}
	for _, f := range plan.Files[:s.Applied] {
		r.done += f.Size
	}
	r.report()
	err := r.apply(ctx, rep, opts.Local)
	if err == nil {
		err = r.flush()
	}
	if err != nil {
		if r.flush() == nil && r.state.Applied > h.state.Applied {
			// Keep what was applied for the next attempt; a full disk
			// may refuse this too, and then the last checkpoint stands.
			_ = r.checkpoint()
		}
		return err
	}
	s = r.state
	if err := h.resize(s.Pages, s.PageSize); err != nil {
		return err
	}
	if err := h.sync(); err != nil {
		return err
	}
	return h.save(State{Phase: Complete, TXID: plan.TXID, PageSize: s.PageSize, Pages: s.Pages})
}

// apply applies the planned files from the first not applied on: the
// first of them downloaded alone, then each of the others offered by local
// from there, and the rest downloaded, runs of them at a time (a run's
// small files come in parallel).
func (r *restoreRun) apply(ctx context.Context, rep *replica.Replica, local func(storage.FileInfo) (ltx.Header, func(func(uint32, []byte) error) error, bool)) error {
	files := r.files
	next := r.state.Applied
	if next < len(files) && local != nil {
		if err := r.download(ctx, rep, files[next:next+1]); err != nil {
			return err
		}
		next++
	}
	type offer struct {
		hdr   ltx.Header
		write func(func(uint32, []byte) error) error
	}
	offers := make([]*offer, len(files))
	if local != nil {
		for i := next; i < len(files); i++ {
			if hdr, write, ok := local(files[i]); ok {
				offers[i] = &offer{hdr, write}
			}
		}
	}
	for next < len(files) {
		if o := offers[next]; o != nil {
			if err := o.write(r.page); err != nil {
				return err
			}
			if err := r.fileDone(files[next], o.hdr); err != nil {
				return err
			}
			offers[next] = nil
			next++
			continue
		}
		end := next + 1
		for end < len(files) && offers[end] == nil {
			end++
		}
		if err := r.download(ctx, rep, files[next:end]); err != nil {
			return err
		}
		next = end
	}
	return nil
}

// download applies files read whole from storage.
func (r *restoreRun) download(ctx context.Context, rep *replica.Replica, files []storage.FileInfo) error {
	return rep.ApplyFiles(ctx, files, replica.ApplyOptions{Parallel: Parallel, Chain: true}, r.page, func(i int, hdr ltx.Header) error {
		return r.fileDone(files[i], hdr)
	})
}

// restoreRun is the state of one Restore call between its callbacks.
type restoreRun struct {
	h        *File
	files    []storage.FileInfo // the plan
	state    State              // what the next checkpoint records
	pending  int64              // bytes applied since the last checkpoint
	lastSave time.Time

	done, total int64 // bytes of the plan's files applied, and in all
	progress    func(done, total int64)

	// run holds consecutive pages not yet written, from page first on:
	// a snapshot's pages come in order and are written a run at a time,
	// in far fewer system calls than pages.
	run   []byte
	first uint32
	size  int // the page size of the pages in run
}

// maxRun bounds the pages held before they are written.
const maxRun = 1 << 20

func (r *restoreRun) page(pgno uint32, data []byte) error {
	next := r.first + uint32(len(r.run)/max(r.size, 1))
	if len(r.run) > 0 && (pgno != next || len(data) != r.size || len(r.run)+len(data) > maxRun) {
		if err := r.flush(); err != nil {
			return err
		}
	}
	if len(r.run) == 0 {
		r.first, r.size = pgno, len(data)
	}
	r.run = append(r.run, data...)
	if pgno == 1 && len(data) >= 100 {
		r.run[18], r.run[19] = 1, 1 // rollback journal: see writePage
	}
	return nil
}

// flush writes the pages held.
func (r *restoreRun) flush() error {
	if len(r.run) == 0 {
		return nil
	}
	last := r.first + uint32(len(r.run)/r.size) - 1
	_, err := r.h.f.WriteAt(r.run, int64(r.first-1)*int64(r.size))
	r.run = r.run[:0]
	if err != nil {
		return &FileError{Path: r.h.path, Op: fmt.Sprintf("write pages %d-%d to", r.first, last), Err: err}
	}
	return nil
}

// fileDone records that planned file f is applied, and follows the
// database size: a file that shrinks the database drops the pages above
// its size at once, so that a later file that grows it again finds zeros
// there, as the database itself had. It checkpoints when one is due.
func (r *restoreRun) fileDone(f storage.FileInfo, hdr ltx.Header) error {
	if err := r.flush(); err != nil {
		return err
	}
	if r.state.Applied > 0 && hdr.Commit < r.state.Pages {
		if err := r.h.resize(hdr.Commit, hdr.PageSize); err != nil {
			return err
		}
	}
	r.state.Applied++
	r.state.Pages, r.state.PageSize = hdr.Commit, hdr.PageSize
	r.done += f.Size
	r.pending += f.Size
	r.report()
	if r.pending >= checkpointBytes || time.Since(r.lastSave) >= checkpointEvery {
		return r.checkpoint()
	}
	return nil
}

func (r *restoreRun) report() {
	if r.progress != nil {
		r.progress(r.done, r.total)
	}
}

// checkpoint syncs the file and records how many planned files it holds.
func (r *restoreRun) checkpoint() error {
	if err := r.h.sync(); err != nil {
		return err
	}
	if err := r.h.save(r.state); err != nil {
		return err
	}
	r.pending, r.lastSave = 0, time.Now()
	return nil
}
