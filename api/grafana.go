package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/servicegraph/servicegraph/graph"
)

// view parses the common filters and queries a fresh snapshot (merged
// with the peers' in a fanned-out request). Its errors are a *ParamError
// (400) or a failed query or merge (500).
func (s *Server) view(r *http.Request) (*graph.Snapshot, graph.Query, *graph.View, error) {
	q, err := ParseQuery(r.URL.Query(), s.now(), s.cfg.MaxDepth)
	if err != nil {
		return nil, q, nil, err
	}
	snap, err := s.snapshot(r, q.From, q.To)
	if err != nil {
		return nil, q, nil, err
	}
	v, err := snap.Query(q)
	switch {
	case errors.Is(err, graph.ErrUnknownService):
		return nil, q, nil, paramErr(ParamService, "unknown service %s", echo(q.Service))
	case err != nil:
		return nil, q, nil, fmt.Errorf("query graph: %w", err)
	}
	return snap, q, v, nil
}

// serveFields answers the Node Graph API datasource's field list. The
// plugin sends the panel's query string here too: it is checked like
// /api/graph/data's (the service is not looked up).
func (s *Server) serveFields(r *http.Request) apiFuncResult {
	if _, err := ParseQuery(r.URL.Query(), s.now(), s.cfg.MaxDepth); err != nil {
		return apiFuncResult{err: err}
	}
	return apiFuncResult{data: nodeGraphFieldsFor(s.traceURL())}
}

// serveData answers the Node Graph API datasource's rows.
func (s *Server) serveData(r *http.Request) apiFuncResult {
	_, _, v, err := s.view(r)
	switch {
	case err != nil:
		return apiFuncResult{err: err}
	case !finiteView(v):
		return apiFuncResult{data: dataBody{Nodes: nodeRows(v, s.traceURL()), Edges: edgeRows(v, s.traceURL())}} // 500, as encoding/json refuses
	}
	tpl := s.traceURL()
	return apiFuncResult{rows: func(b []byte, flush func([]byte) []byte) []byte {
		times := sampleTimes(v)
		b = appendNodes(append(b, `{"nodes":`...), v, times, false, tpl, flush)
		return append(appendEdges(append(b, `,"edges":`...), v, times, tpl, flush), '}')
	}}
}

// serveAPIHealth is the datasource's "Save & Test": 200 when serving.
func (s *Server) serveAPIHealth(*http.Request) apiFuncResult {
	return apiFuncResult{data: map[string]string{"status": "ok"}}
}

// serveNodes answers the node rows as a flat array (Infinity,
// node-graph-nodes format), with arc__*_color columns.
func (s *Server) serveNodes(r *http.Request) apiFuncResult {
	_, _, v, err := s.view(r)
	switch {
	case err != nil:
		return apiFuncResult{err: err}
	case !finiteView(v):
		rows := nodeRows(v, s.traceURL())
		out := make([]infinityNodeRow, len(rows))
		for i, n := range rows {
			out[i] = infinityNodeRow{nodeRow: n, ArcSuccessColor: arcSuccess, ArcFailedColor: arcFailed}
		}
		return apiFuncResult{data: out} // 500, as encoding/json refuses
	}
	tpl := s.traceURL()
	return apiFuncResult{rows: func(b []byte, flush func([]byte) []byte) []byte {
		return appendNodes(b, v, sampleTimes(v), true, tpl, flush)
	}}
}

// serveEdges answers the edge rows as a flat array (Infinity,
// node-graph-edges format).
func (s *Server) serveEdges(r *http.Request) apiFuncResult {
	_, _, v, err := s.view(r)
	switch {
	case err != nil:
		return apiFuncResult{err: err}
	case !finiteView(v):
		return apiFuncResult{data: edgeRows(v, s.traceURL())} // 500, as encoding/json refuses
	}
	tpl := s.traceURL()
	return apiFuncResult{rows: func(b []byte, flush func([]byte) []byte) []byte { return appendEdges(b, v, sampleTimes(v), tpl, flush) }}
}
