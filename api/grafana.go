package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/servicegraph/servicegraph/graph"
)

// view parses the common filters and queries a fresh snapshot. On failure
// it has answered the request (400 naming the parameter) and returns false.
func (s *Server) view(w http.ResponseWriter, r *http.Request) (*graph.Snapshot, graph.Query, *graph.View, bool) {
	q, err := ParseQuery(r.URL.Query(), s.now(), s.cfg.MaxDepth)
	if err != nil {
		writeError(w, s.log, http.StatusBadRequest, err)
		return nil, q, nil, false
	}
	snap := s.src.Graph.Snapshot()
	v, err := snap.Query(q)
	switch {
	case errors.Is(err, graph.ErrUnknownService):
		writeError(w, s.log, http.StatusBadRequest, paramErr(ParamService, "unknown service %s", echo(q.Service)))
		return nil, q, nil, false
	case err != nil:
		writeError(w, s.log, http.StatusInternalServerError, fmt.Errorf("query graph: %w", err))
		return nil, q, nil, false
	}
	return snap, q, v, true
}

// serveFields answers the Node Graph API datasource's field list. The
// plugin sends the panel's query string here too: it is checked like
// /api/graph/data's (the service is not looked up).
func (s *Server) serveFields(w http.ResponseWriter, r *http.Request) {
	if _, err := ParseQuery(r.URL.Query(), s.now(), s.cfg.MaxDepth); err != nil {
		writeError(w, s.log, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, s.log, http.StatusOK, nodeGraphFields)
}

// serveData answers the Node Graph API datasource's rows.
func (s *Server) serveData(w http.ResponseWriter, r *http.Request) {
	_, _, v, ok := s.view(w, r)
	switch {
	case !ok:
	case !finiteView(v):
		writeJSON(w, s.log, http.StatusOK, dataBody{Nodes: nodeRows(v), Edges: edgeRows(v)}) // 500, as encoding/json refuses
	default:
		writeRows(w, func(b []byte, flush func([]byte) []byte) []byte {
			b = appendNodes(append(b, `{"nodes":`...), v, false, flush)
			return append(appendEdges(append(b, `,"edges":`...), v, flush), '}')
		})
	}
}

// serveAPIHealth is the datasource's "Save & Test": 200 when serving.
func (s *Server) serveAPIHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.log, http.StatusOK, map[string]string{"status": "ok"})
}

// serveNodes answers the node rows as a flat array (Infinity,
// node-graph-nodes format), with arc__*_color columns.
func (s *Server) serveNodes(w http.ResponseWriter, r *http.Request) {
	_, _, v, ok := s.view(w, r)
	switch {
	case !ok:
	case !finiteView(v):
		rows := nodeRows(v)
		out := make([]infinityNodeRow, len(rows))
		for i, n := range rows {
			out[i] = infinityNodeRow{nodeRow: n, ArcSuccessColor: arcSuccess, ArcFailedColor: arcFailed}
		}
		writeJSON(w, s.log, http.StatusOK, out) // 500, as encoding/json refuses
	default:
		writeRows(w, func(b []byte, flush func([]byte) []byte) []byte { return appendNodes(b, v, true, flush) })
	}
}

// serveEdges answers the edge rows as a flat array (Infinity,
// node-graph-edges format).
func (s *Server) serveEdges(w http.ResponseWriter, r *http.Request) {
	_, _, v, ok := s.view(w, r)
	switch {
	case !ok:
	case !finiteView(v):
		writeJSON(w, s.log, http.StatusOK, edgeRows(v)) // 500, as encoding/json refuses
	default:
		writeRows(w, func(b []byte, flush func([]byte) []byte) []byte { return appendEdges(b, v, flush) })
	}
}
