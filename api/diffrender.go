package api

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
)

// renderOrDiff serves /graph.<format>: the diff of the window against a
// baseline when baseline_from or baseline_to is given, else the view
// (renderHandler).
func (s *Server) renderOrDiff(f picture.Format) apiFunc {
	plain := s.renderHandler(f)
	return func(r *http.Request) apiFuncResult {
		if !isDiff(r.URL.Query()) {
			return plain(r)
		}
		return s.renderDiff(r, f)
	}
}

// renderDiff draws the diff of a request (see serveDiff) with the
// renderer: added nodes and edges highlighted, removed ones faded, changed
// ones annotated. Bounds, deadline and errors are those of renderHandler.
func (s *Server) renderDiff(r *http.Request, f picture.Format) apiFuncResult {
	o, err := parsePicture(r.URL.Query())
	if err != nil {
		return apiFuncResult{err: err}
	}
	d, dq, err := s.diff(r)
	if err != nil {
		return apiFuncResult{err: err}
	}
	if s.src.Renderer == nil {
		return apiFuncResult{err: errNoRenderer}
	}
	v := d.View()
	width := s.src.Graph.Snapshot().BucketWidth
	return s.draw(r, "diff ", diffRenderKey(d, v, dq, width, f, o.RankDir), v, f, picture.Options{RankDir: o.RankDir, Scale: o.Scale, Diff: d})
}

// diffRenderKey identifies what a diff's picture shows, as renderKey does
// for a view: the topology of the union v (d.View()), every node's and edge's status and
// reasons (hashed), both windows in history buckets and their lengths,
// the filters, the thresholds, the format and the direction. Within a
// bucket the numbers of a cached picture may lag, as renderKey's do; a
// status that flips redraws.
func diffRenderKey(d *graph.Diff, v *graph.View, dq diffQuery, width time.Duration, f picture.Format, rankdir string) string {
	h := sha256.New()
	for i := range d.Nodes {
		fmt.Fprintf(h, "%d:%s;", d.Nodes[i].Status, strings.Join(d.Nodes[i].Reasons, ","))
	}
	for i := range d.Edges {
		fmt.Fprintf(h, "%d:%s;", d.Edges[i].Status, strings.Join(d.Edges[i].Reasons, ","))
	}
	bq := dq.q
	bq.From, bq.To = dq.baselineFrom, dq.baselineTo
	return fmt.Sprintf("diff|%s|status=%x|baseline=%s|thresholds=%g,%g,%g",
		renderKey(v, dq.q, width, f, rankdir), h.Sum(nil)[:16],
		renderKey(&graph.View{}, bq, width, f, rankdir),
		dq.thresholds.Rate, dq.thresholds.ErrorPoints, dq.thresholds.Latency)
}
