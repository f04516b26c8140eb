package main

import (
	"sync/atomic"

	"github.com/servicegraph/servicegraph/api"
)

// phase is where the service is in its life.
type phase int32

const (
	phaseStarting phase = iota // listeners not up yet
	phaseLoading               // the API serves probes; the saved graph loads
	phaseRunning               // ingesting and saving
	phaseStopping              // shutdown began
)

// readiness answers /-/ready from the service's phase. Safe for concurrent
// use.
type readiness struct {
	phase atomic.Int32
}

func (r *readiness) set(p phase) { r.phase.Store(int32(p)) }

// get is api.Sources.Ready.
func (r *readiness) get() api.Readiness {
	switch phase(r.phase.Load()) {
	case phaseLoading:
		return api.Readiness{Loading: true, Reason: api.ReasonLoading}
	case phaseRunning:
		return api.Readiness{Ready: true}
	case phaseStopping:
		return api.Readiness{Reason: "shutting down"}
	default:
		return api.Readiness{Reason: "starting"}
	}
}
