package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/render/picture"
)

// WorkerArg is the hidden first argument that makes a binary act as a render
// worker. Every binary that creates a Renderer in child-process mode (its
// tests included) must call WorkerMain first in main or TestMain.
const WorkerArg = "__render-worker"

// WorkerMain makes the process a render worker when it was started as one
// (os.Args[1] is WorkerArg, os.Args[2] the format, then, if given, the PNG
// scale and its pixel bound): it runs RunWorker on stdin and stdout and
// exits, 1 with the error on stderr when it fails. Otherwise it returns
// at once.
func WorkerMain() {
	if len(os.Args) < 3 || os.Args[1] != WorkerArg {
		return
	}
	scale, maxPixels := "1", strconv.Itoa(DefaultMaxPNGPixels)
	if len(os.Args) > 4 {
		scale, maxPixels = os.Args[3], os.Args[4]
	}
	if err := RunWorker(os.Stdin, os.Stdout, os.Args[2], scale, maxPixels); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Bounds of the worker protocol.
const (
	maxDOTBytes     = 64 << 20  // picture.DOT text read by a worker
	maxPictureBytes = 256 << 20 // picture read back from a worker
	maxStderrBytes  = 4 << 10   // worker diagnostics kept for the error
)

// RunWorker reads picture.DOT text from stdin, lays it out and writes the picture in
// format ("svg" or "png") to stdout, a PNG zoomed by scale (a number from 1
// to picture.MaxScale), less if it would have more than maxPixels pixels
// (see Config.MaxPNGPixels). It is the body of the child process that
// Render starts; it returns when done, and the process should exit.
func RunWorker(stdin io.Reader, stdout io.Writer, format, scale, maxPixels string) error {
	f, err := picture.ParseFormat(format)
	if err != nil {
		return err
	}
	if f == picture.DOT {
		return errors.New("render worker: dot needs no layout")
	}
	z, err := strconv.ParseFloat(scale, 64)
	if err == nil {
		err = picture.Options{Scale: z}.Validate()
	}
	if err != nil || z == 0 {
		return fmt.Errorf("render worker: scale must be a number from 1 to %d, got %q", picture.MaxScale, scale)
	}
	px, err := strconv.ParseInt(maxPixels, 10, 64)
	if err != nil || px < 1 {
		return fmt.Errorf("render worker: the pixel bound must be a positive integer, got %q", maxPixels)
	}
	dot, err := io.ReadAll(io.LimitReader(stdin, maxDOTBytes+1))
	if err != nil {
		return fmt.Errorf("render worker: read dot: %w", err)
	}
	if len(dot) > maxDOTBytes {
		return fmt.Errorf("render worker: dot text above %d bytes", maxDOTBytes)
	}
	if err := lockGraphviz(context.Background()); err != nil {
		return err
	}
	defer unlockGraphviz()
	gv, err := newGraphviz(context.Background())
	if err != nil {
		return fmt.Errorf("render worker: start graphviz: %w", err)
	}
	defer func() { _ = gv.Close() }() // its error is not about freeing: see inProcess.close
	out, err := drawLocked(gv, dot, f, zoom{scale: z, maxPixels: px})
	if err != nil {
		return fmt.Errorf("render worker: %w", err)
	}
	_, err = stdout.Write(out)
	return err
}

// childProcess lays out in a child process, the current executable run with
// WorkerArg: killed at the deadline, and the WASM memory dies with it.
type childProcess struct {
	exe string
	sem chan struct{} // one token per running worker
}

var _ engine = (*childProcess)(nil)

func newChildProcess(workers int) (*childProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable for render workers: %w", err)
	}
	return &childProcess{exe: exe, sem: make(chan struct{}, workers)}, nil
}

func (e *childProcess) layout(ctx context.Context, dot []byte, f picture.Format, z zoom) ([]byte, error) {
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-e.sem }()
	cmd := exec.CommandContext(ctx, e.exe, WorkerArg, string(f),
		strconv.FormatFloat(z.scale, 'g', -1, 64), strconv.FormatInt(z.maxPixels, 10))
	cmd.Stdin = bytes.NewReader(dot)
	stdout := &cappedBuffer{max: maxPictureBytes}
	stderr := &cappedBuffer{max: maxStderrBytes}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second // after a kill, do not wait on pipes for long
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("render worker %s: %w: %s (is render.RunWorker called from main for %q?)",
			f, err, strings.TrimSpace(stderr.buf.String()), WorkerArg)
	}
	if stdout.over {
		return nil, fmt.Errorf("render worker %s: picture above %d bytes", f, maxPictureBytes)
	}
	out := stdout.buf.Bytes()
	if !looksLike(out, f) {
		return nil, fmt.Errorf("render worker %s: output is not a %s picture (is render.RunWorker called from main for %q?)", f, f, WorkerArg)
	}
	return out, nil
}

func (e *childProcess) close() error { return nil }

// looksLike checks the signature of a worker's output.
func looksLike(b []byte, f picture.Format) bool {
	switch f {
	case picture.PNG:
		return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n"))
	case picture.SVG:
		return bytes.Contains(b[:min(len(b), 1024)], []byte("<svg"))
	}
	return false
}

// cappedBuffer keeps the first max bytes written and drops the rest, still
// reporting success so that the child never blocks on a full pipe.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); len(p) > room {
		c.over = true
		c.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.buf.Write(p)
}
