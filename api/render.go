package api

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
)

// Renderer draws a view: *render.Renderer is one. key identifies the
// picture's input (the view's topology, the window in history buckets, the
// normalised query, format and rankdir; see renderKey) for the renderer's
// cache, to which the renderer adds the options (scale included). Render must honour ctx and be safe for concurrent use; errors that
// wrap picture.ErrTooLarge are answered 422, picture.ErrTimeout 503.
type Renderer interface {
	Render(ctx context.Context, key string, v *graph.View, f picture.Format, o picture.Options) ([]byte, error)
}

// ParamScale zooms a PNG: the whole picture, text and lines included.
// DOT and SVG ignore it (it is still checked).
const ParamScale = "scale"

// DefaultScale is /graph.png's zoom when the request has no scale: twice
// Graphviz's 96 dpi, so that labels stay readable in documents. Scales go
// from 1 to picture.MaxScale.
const DefaultScale = 2

// retryAfter is the Retry-After, in seconds, of a timed-out drawing and of
// a query that found no slot.
const retryAfter = 10

// parsePicture returns the picture options of a request: rankdir and
// scale.
func parsePicture(v url.Values) (picture.Options, error) {
	rankdir, err := parseRankDir(v)
	if err != nil {
		return picture.Options{}, err
	}
	scale, err := parseScale(v)
	if err != nil {
		return picture.Options{}, err
	}
	return picture.Options{RankDir: rankdir, Scale: scale}, nil
}

// parseScale returns DefaultScale when absent, else a number from 1 to
// picture.MaxScale (fractions allowed).
func parseScale(v url.Values) (float64, error) {
	s := v.Get(ParamScale)
	if s == "" {
		return DefaultScale, nil
	}
	z, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(z) || z < 1 || z > picture.MaxScale {
		return 0, paramErr(ParamScale, "scale must be a number from 1 to %d, got %q", picture.MaxScale, cut(s, maxEcho))
	}
	return z, nil
}

// renderHandler serves /graph.<format>: the common filters plus rankdir
// and scale.
func (s *Server) renderHandler(f picture.Format) apiFunc {
	return func(r *http.Request) apiFuncResult {
		o, err := parsePicture(r.URL.Query())
		if err != nil {
			return apiFuncResult{err: err}
		}
		snap, q, v, err := s.view(r)
		if err != nil {
			return apiFuncResult{err: err}
		}
		if s.src.Renderer == nil {
			return apiFuncResult{err: errNoRenderer}
		}
		return s.draw(r, "", renderKey(v, q, snap.BucketWidth, f, o.RankDir), v, f, o)
	}
}

// draw renders v (what is a word for the log: "" or "diff ") within the
// request timeout and maps the renderer's errors to the API's answers, for
// the view and diff pictures alike.
func (s *Server) draw(r *http.Request, what, key string, v *graph.View, f picture.Format, o picture.Options) apiFuncResult {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	out, err := s.src.Renderer.Render(ctx, key, v, f, o)
	switch {
	case err == nil:
		return apiFuncResult{body: out, contentType: f.ContentType()}
	case errors.Is(err, picture.ErrTooLarge), errors.Is(err, picture.ErrTimeout):
		return apiFuncResult{err: fmt.Errorf("%w; %s", err, picture.HintURL)}
	case errors.Is(err, context.DeadlineExceeded):
		return apiFuncResult{err: fmt.Errorf("%w: the request timeout of %s passed; %s", picture.ErrTimeout, s.cfg.RequestTimeout, picture.HintURL)}
	case r.Context().Err() != nil:
		return apiFuncResult{err: errCancelled}
	default:
		return apiFuncResult{err: &internalError{msg: "drawing failed; see the server log",
			cause: fmt.Errorf("draw %s%s of %d nodes and %d edges: %w", what, f, len(v.Nodes), len(v.Edges), err)}}
	}
}

// renderKey identifies what a picture shows, so that a page refreshing
// while spans arrive redraws at most once per history bucket: the view's
// topology (its nodes with their kinds and its edges, hashed), the history
// buckets the window touches and its length (rates divide by it), the
// neighbourhood, the kinds, the format and the direction. The counts are
// left out: within one bucket they only grow, so a cached picture's
// numbers and colours are at most one bucket width old, while a new node or
// edge, or a bucket closing (the window's buckets shift), gives a new key.
func renderKey(v *graph.View, q graph.Query, width time.Duration, f picture.Format, rankdir string) string {
	w := int64(width)
	if w <= 0 {
		w = int64(time.Second)
	}
	from, to := q.From.UnixNano(), q.To.UnixNano()
	depth := q.Depth
	if q.Service == "" {
		depth = 0 // no centre: depth changes nothing
	}
	return fmt.Sprintf("topo=%x|buckets=%d..%d|window=%d|service=%q|depth=%d|kinds=%d|direction=%s|cycles=%t|format=%s|rankdir=%s",
		topology(v), floorDiv(from, w), floorDiv(to-1, w), to-from, q.Service, depth, uint8(q.Kinds), q.Direction, q.Cycles, f, rankdir)
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
