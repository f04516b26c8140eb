package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// readChunk bounds one read of the state file, so that a cancelled Load
// stops within one chunk.
const readChunk = 1 << 20

// Load restores the graph saved in the data directory into the store,
// which must be empty and not yet written to. A missing file is an empty
// start; a corrupt one is moved aside (counted, logged) and is an empty
// start too. Load fails on a file of a newer format, on something that is
// not a regular file, and when ctx ends while the file is read: it then
// returns ctx's error and leaves the file where it is.
func (s *Saver) Load(ctx context.Context) error {
	if s.dir == "" {
		return nil
	}
	restored, err := s.load(ctx)
	if err == nil {
		s.mu.Lock()
		s.loaded = true
		s.mu.Unlock()
		if restored {
			// Overwrite a clean shutdown's mark at once, so that a crash
			// before the first periodic save is not taken for a clean stop
			// (the file's totals would be behind what this process
			// exported). A failure is counted and logged like any save's.
			_ = s.Save()
		}
	}
	return err
}

// load reads the file; restored reports that there was one and it loaded.
func (s *Saver) load(ctx context.Context) (restored bool, err error) {
	path := s.path()
	f, err := openRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		s.logger.Info("no saved graph; starting empty", "path", path)
		return false, nil
	}
	if err == nil {
		err = s.store.ReadState(ctxReader{ctx: ctx, r: f})
		f.Close()
	}
	if cerr := ctx.Err(); cerr != nil && err != nil {
		// Whatever ReadState made of the interrupted read, the file
		// itself is not to blame: leave it alone.
		return false, fmt.Errorf("load %s: interrupted: %w", path, cerr)
	}
	var nr *notRegularError
	switch {
	case err == nil:
		st := s.store.Stats()
		s.logger.Info("restored saved graph", "path", path, "nodes", st.Nodes, "edges", st.Edges)
		return true, nil
	case errors.Is(err, graph.ErrNewerFormat):
		return false, fmt.Errorf("%s: %w; run the newer build, or move the file away to start empty", path, err)
	case errors.As(err, &nr):
		return false, err
	}
	aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().UnixNano())
	if rerr := os.Rename(path, aside); rerr != nil {
		return false, fmt.Errorf("%s is unreadable (%v) and could not be moved aside: %w", path, err, rerr)
	}
	s.loadFailed.Inc()
	s.logger.Error("saved graph unreadable; moved aside, starting empty", "path", path, "moved_to", aside, "err", err)
	return false, nil
}

// notRegularError: the state file's path names something that is not a
// regular file.
type notRegularError struct {
	path string
	mode fs.FileMode
}

func (e *notRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file: the saved graph is always a regular file, so something else "+
		"put this there; move it away (or point --data-dir elsewhere) and start again", e.path, describeType(e.mode))
}

func describeType(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	default:
		return "of type " + t.String()
	}
}

// openRegular opens path for reading if it is a regular file (following
// symbolic links). The type is checked before the open, so that a named
// pipe is never opened (which would block until a writer comes), and again
// on the open file, which must be the one checked.
func openRegular(path string) (*os.File, error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, &notRegularError{path: path, mode: before.Mode()}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	switch {
	case err != nil:
	case !after.Mode().IsRegular():
		err = &notRegularError{path: path, mode: after.Mode()}
	case !os.SameFile(before, after):
		err = fmt.Errorf("%s was replaced while being opened; start again", path)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ctxReader ends reading when ctx ends, within one readChunk.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) > readChunk {
		p = p[:readChunk]
	}
	return c.r.Read(p)
}
