package main

import (
	"testing"

	"github.com/servicegraph/servicegraph/api"
)

func TestReadiness(t *testing.T) {
	failing := false
	tests := []struct {
		name               string
		phase              phase
		failing            bool
		readyOnSaveFailure bool
		want               api.Readiness
	}{
		{"starting", phaseStarting, false, true, api.Readiness{Reason: "starting"}},
		{"loading", phaseLoading, false, true, api.Readiness{Loading: true, Reason: "loading state"}},
		{"running", phaseRunning, false, true, api.Readiness{Ready: true}},
		{"running, saves failing, stay ready", phaseRunning, true, true, api.Readiness{Ready: true, Reason: reasonSaveFailing}},
		{"running, saves failing, not ready", phaseRunning, true, false, api.Readiness{Reason: reasonSaveFailing}},
		{"stopping", phaseStopping, true, true, api.Readiness{Reason: "shutting down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readiness{saveFailing: func() bool { return failing }, readyOnSaveFailure: tt.readyOnSaveFailure}
			r.set(tt.phase)
			failing = tt.failing
			if got := r.get(); got != tt.want {
				t.Fatalf("get() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
