package api

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/servicegraph/servicegraph/graph"
)

// routeSnapshot is the route name of /api/graph/snapshot.
const routeSnapshot = "graph_snapshot"

// serveSnapshot answers /api/graph/snapshot: the window and filters of the
// request (the common filters) as a versioned snapshot document
// (graph.Document, format graph.DocumentFormat, version
// graph.DocumentVersion), that `servicegraph diff` compares with another
// snapshot or with trace files. It is offered for download as
// servicegraph-snapshot-<to>.json.
func (s *Server) serveSnapshot(r *http.Request) apiFuncResult {
	snap, q, v, err := s.view(r)
	if err != nil {
		return apiFuncResult{err: err}
	}
	doc := graph.Document{Taken: s.now(), Filters: graph.FiltersOf(q), Sample: graph.NewSample(snap, v)}
	var b bytes.Buffer
	if err := doc.WriteJSON(&b); err != nil {
		return apiFuncResult{err: &internalError{msg: "encoding the snapshot failed; see the server log", cause: err}}
	}
	h := http.Header{}
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="servicegraph-snapshot-%s.json"`, q.To.UTC().Format("20060102T150405Z")))
	return apiFuncResult{body: b.Bytes(), contentType: "application/json; charset=utf-8", header: h}
}
