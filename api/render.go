package api

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/graph"
)

// Formats of the render endpoints, passed to Renderer.Render.
const (
	FormatDOT = "dot"
	FormatSVG = "svg"
	FormatPNG = "png"
)

// Renderer draws a view. key identifies the picture's input (the view's
// topology, the window in history buckets, the normalised query, format and
// rankdir; see renderKey) for the renderer's cache;
// format is FormatDOT, FormatSVG or FormatPNG and rankdir one of LR, TB, RL,
// BT. Render must honour ctx and be safe for concurrent use; errors that
// wrap ErrTooLarge or ErrTimeout are answered 422 and 503.
type Renderer interface {
	Render(ctx context.Context, key string, v *graph.View, format, rankdir string) ([]byte, error)
}

// Errors a Renderer wraps to be mapped to HTTP codes.
var (
	// ErrTooLarge: the view has more nodes or edges than the renderer
	// draws. Answered 422 with a hint to narrow the query.
	ErrTooLarge = errors.New("graph too large to draw")
	// ErrTimeout: the drawing did not finish in time. Answered 503 with
	// Retry-After.
	ErrTimeout = errors.New("drawing took too long")
)

// narrowHint is added to 422 and 503 answers that do not already say how
// to narrow the graph.
const narrowHint = "narrow the graph: pick a service with service=<name>&depth=1, or fewer kinds with kinds=call,messaging_system"

// retryAfter is the Retry-After of a timed-out drawing, in seconds.
const retryAfter = 10

var contentTypes = map[string]string{
	FormatSVG: "image/svg+xml",
	FormatDOT: "text/vnd.graphviz; charset=utf-8",
	FormatPNG: "image/png",
}

// renderHandler serves /graph.<format>: the common filters plus rankdir.
func (s *Server) renderHandler(format string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rankdir, err := parseRankDir(r.URL.Query())
		if err != nil {
			writeError(w, s.log, http.StatusBadRequest, err)
			return
		}
		snap, q, v, ok := s.view(w, r)
		if !ok {
			return
		}
		if s.src.Renderer == nil {
			writeText(w, http.StatusNotImplemented, "rendering is not configured on this server\n")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		out, err := s.src.Renderer.Render(ctx, renderKey(v, q, snap.BucketWidth, format, rankdir), v, format, rankdir)
		switch {
		case err == nil:
			w.Header().Set("Content-Type", contentTypes[format])
			w.Header().Set("Content-Length", strconv.Itoa(len(out)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(out)
		case errors.Is(err, ErrTooLarge):
			writeText(w, http.StatusUnprocessableEntity, withHint(err))
		case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			writeText(w, http.StatusServiceUnavailable, withHint(err))
		case r.Context().Err() != nil:
			// The client left; nobody reads this answer.
			writeText(w, http.StatusServiceUnavailable, "request cancelled\n")
		default:
			s.log.Error("render failed", "format", format, "nodes", len(v.Nodes), "edges", len(v.Edges), "err", err)
			writeText(w, http.StatusInternalServerError, "drawing failed; see the server log\n")
		}
	})
}

func withHint(err error) string {
	msg := errorMessage(err)
	if !strings.Contains(msg, "service=") {
		msg += "\n" + narrowHint
	}
	return msg + "\n"
}

// renderKey identifies what a picture shows, so that a page refreshing
// while spans arrive redraws at most once per history bucket: the view's
// topology (its nodes with their kinds and its edges, hashed), the history
// buckets the window touches and its length (rates divide by it), the
// neighbourhood, the kinds, the format and the direction. The counts are
// left out: within one bucket they only grow, so a cached picture's
// numbers and colours are at most one bucket width old, while a new node or
// edge, or a bucket closing (the window's buckets shift), gives a new key.
func renderKey(v *graph.View, q graph.Query, width time.Duration, format, rankdir string) string {
	w := int64(width)
	if w <= 0 {
		w = int64(time.Second)
	}
	f, t := q.From.UnixNano(), q.To.UnixNano()
	depth := q.Depth
	if q.Service == "" {
		depth = 0 // no centre: depth changes nothing
	}
	return fmt.Sprintf("topo=%x|buckets=%d..%d|window=%d|service=%q|depth=%d|kinds=%d|format=%s|rankdir=%s",
		topology(v), floorDiv(f, w), floorDiv(t-1, w), t-f, q.Service, depth, uint8(q.Kinds), format, rankdir)
}

// topology hashes the view's node names and kinds and its edges' ends and
// kinds (SHA-256, cut to 128 bits), every name length-prefixed so that no
// two topologies write the same bytes. O(nodes + edges): microseconds
// beside a layout's hundreds of milliseconds.
func topology(v *graph.View) []byte {
	h := sha256.New()
	var buf []byte
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(v.Nodes)))
	for _, n := range v.Nodes {
		str(n.Name)
		buf = binary.AppendUvarint(buf, uint64(n.Kind))
		if len(buf) > 4096 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	buf = binary.AppendUvarint(buf, uint64(len(v.Edges)))
	for _, e := range v.Edges {
		str(e.Client)
		str(e.Server)
		buf = binary.AppendUvarint(buf, uint64(e.Kind))
		if len(buf) > 4096 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return h.Sum(nil)[:16]
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
