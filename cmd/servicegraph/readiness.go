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

// reasonSaveFailing is the /-/ready reason (or warning) while saves fail.
// Probes are unauthenticated: the details are in the log.
const reasonSaveFailing = "saving the graph failed; see the log and servicegraph_state_saves_total"

// readiness answers /-/ready from the service's phase and, once running,
// from whether saves fail. Safe for concurrent use.
type readiness struct {
	phase atomic.Int32
	// saveFailing reports whether the last save failed; nil: never.
	saveFailing func() bool
	// readyOnSaveFailure: stay ready (with a warning) while saves fail.
	readyOnSaveFailure bool
}

func (r *readiness) set(p phase) { r.phase.Store(int32(p)) }

// get is api.Sources.Ready.
func (r *readiness) get() api.Readiness {
	switch phase(r.phase.Load()) {
	case phaseLoading:
		return api.Readiness{Loading: true, Reason: api.ReasonLoading}
	case phaseRunning:
		if r.saveFailing != nil && r.saveFailing() {
			return api.Readiness{Ready: r.readyOnSaveFailure, Reason: reasonSaveFailing}
		}
		return api.Readiness{Ready: true}
	case phaseStopping:
		return api.Readiness{Reason: "shutting down"}
	default:
		return api.Readiness{Reason: "starting"}
	}
}
