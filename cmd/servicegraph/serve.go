package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/internal/netlimit"
	"github.com/servicegraph/servicegraph/internal/state"
	"github.com/servicegraph/servicegraph/kafka"
	"github.com/servicegraph/servicegraph/metrics"
	"github.com/servicegraph/servicegraph/pairing"
	"github.com/servicegraph/servicegraph/receiver"
	"github.com/servicegraph/servicegraph/render"
)

// shutdownTimeout bounds draining in-flight requests at shutdown.
const shutdownTimeout = 15 * time.Second

// addrs are the bound listen addresses, for callers that started with port 0.
type addrs struct{ API, GRPC, HTTP net.Addr }

// serve runs the service until ctx is done, then drains, saves and stops.
// ready, if not nil, is called once every listener is up.
func serve(ctx context.Context, cfg Config, logger *slog.Logger, ready func(addrs)) (err error) {
	// Every connection cap, with a reserve for the API, the state file and
	// the runtime, must fit the open-file limit.
	if err := netlimit.CheckFiles(uint64(cfg.Receiver.Connections()+cfg.API.MaxConnections)+netlimit.Reserve,
		fmt.Sprintf("--otlp-max-connections on the OTLP listeners (%d in all) and --api-max-connections (%d)",
			cfg.Receiver.Connections(), cfg.API.MaxConnections)); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	store, err := graph.New(cfg.Graph, graph.Settings{Logger: logger})
	if err != nil {
		return err
	}
	st, err := state.Open(cfg.State.Dir, cfg.State.SaveInterval, store, state.Settings{Logger: logger, Registerer: reg})
	if err != nil {
		return err
	}
	cfg.Pairing.MaxNameBytes = cfg.Graph.MaxNameBytes // one cut for every name kept (--max-name-bytes)
	cfg.Metrics.Dimensions = cfg.Graph.Dimensions     // the edge series' labels (--dimensions)
	cfg.Metrics.NativeHistograms = cfg.Graph.NativeHistograms
	proc, err := pairing.New(cfg.Pairing, pairing.Settings{Logger: logger}, store)
	if err != nil {
		return err
	}
	metricsHandler, err := metrics.NewHandler(cfg.Metrics, metrics.Settings{Logger: logger, Registerer: reg, Gatherer: reg}, store, proc)
	if err != nil {
		return err
	}
	rend, err := render.New(cfg.Render, render.Settings{Logger: logger, Registerer: reg})
	if err != nil {
		return err
	}
	defer rend.Close()
	recv, err := receiver.New(cfg.Receiver, receiver.Settings{Logger: logger, Registerer: reg}, proc)
	if err != nil {
		return err
	}
	probe := readiness{saveFailing: st.Failing, readyOnSaveFailure: cfg.State.ReadyOnSaveFailure}
	// A merged graph of the peers' is bounded as this instance's is.
	cfg.API.Cluster.Limits = graph.MergeLimits{MaxNodes: cfg.Graph.MaxNodes, MaxEdges: cfg.Graph.MaxEdges}
	// In Kafka mode without --peers the API fans out to the group's
	// members (their advertised addresses), known once the consumer runs.
	var peers api.PeerSource
	var groupPeers *api.DynamicPeers
	if cfg.Kafka.Enabled() && len(cfg.API.Cluster.Peers) == 0 {
		groupPeers = api.NewDynamicPeers(10*time.Second, cfg.API.Cluster.PeerTimeout)
		peers = groupPeers
	}
	srv, err := api.New(cfg.API, api.Settings{Logger: logger, Registerer: reg}, api.Sources{
		Graph:    store,
		Problems: proc.Problems,
		Renderer: rend,
		Metrics:  metricsHandler,
		Ready:    probe.get,
		Peers:    peers,
	})
	if err != nil {
		return err
	}

	// The API comes up first, so that probes are answered (/-/ready: 503
	// "loading state") while a large saved graph loads.
	probe.set(phaseLoading)
	if err := srv.Start(ctx); err != nil {
		return err
	}
	if err := loadState(ctx, st, logger); err != nil {
		probe.set(phaseStopping)
		serr := srv.Shutdown(context.Background())
		if errors.Is(err, errInterrupted) {
			logger.Info("stopped while loading the saved graph; nothing was saved, the state file is untouched")
			return serr
		}
		return errors.Join(err, serr)
	}
	// Shared first-seen times (Kafka mode) are read before anything is
	// counted, so that an old edge never starts with a new first-seen.
	var fs *kafka.FirstSeen
	if cfg.Kafka.Enabled() {
		cfg.FirstSeen.MaxEdges = cfg.Graph.MaxEdges
		fs, err = kafka.NewFirstSeen(cfg.FirstSeen, kafka.FirstSeenSettings{Logger: logger, Registerer: reg, Brokers: cfg.Kafka.Brokers}, store)
		if err == nil {
			err = fs.Start(ctx)
		}
		if err != nil {
			return errors.Join(fmt.Errorf("kafka first-seen: %w", err), srv.Shutdown(context.Background()))
		}
	}
	if err := proc.Start(ctx); err != nil {
		return errors.Join(err, fs.Shutdown(context.Background()), srv.Shutdown(context.Background()))
	}
	if err := recv.Start(ctx); err != nil {
		return errors.Join(err, srv.Shutdown(context.Background()), proc.Shutdown(context.Background()))
	}
	var kin *kafkaIngest // multi-instance mode (kafka.go)
	if cfg.Kafka.Enabled() {
		if kin, err = startKafka(ctx, cfg.Kafka.Config, advertised(cfg.Kafka.Advertise, srv.Addr()), proc, logger, reg); err != nil {
			return errors.Join(err, recv.Shutdown(context.Background()), proc.Shutdown(context.Background()), srv.Shutdown(context.Background()))
		}
	}
	if groupPeers != nil && kin != nil {
		scheme := "http"
		if cfg.API.TLS.CertFile != "" {
			scheme = "https"
		}
		groupPeers.SetLookup(func(ctx context.Context) ([]string, error) {
			ms, err := kin.c.Members(ctx) // ClientID: each member's --kafka-advertise
			urls := make([]string, 0, len(ms))
			for _, m := range ms {
				urls = append(urls, scheme+"://"+m.ClientID)
			}
			return urls, err
		})
	}
	if err := st.Start(ctx); err != nil {
		return errors.Join(err, kin.shutdown(context.Background()), recv.Shutdown(context.Background()), proc.Shutdown(context.Background()),
			srv.Shutdown(context.Background()))
	}
	probe.set(phaseRunning)
	logger.Info("servicegraph started", "otlp_grpc", addrString(recv.GRPCAddr()), "otlp_http", addrString(recv.HTTPAddr()),
		"http", addrString(srv.Addr()), "data_dir", cfg.State.Dir)
	if ready != nil {
		ready(addrs{API: srv.Addr(), GRPC: recv.GRPCAddr(), HTTP: recv.HTTPAddr()})
	}

	<-ctx.Done()
	// Readiness goes false first so that load balancers stop sending, then
	// ingestion drains, then the graph is completed and saved.
	probe.set(phaseStopping)
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	errs := []error{kin.shutdown(sctx), recv.Shutdown(sctx), proc.Shutdown(sctx)}
	proc.Flush()
	errs = append(errs, fs.Shutdown(sctx), st.Shutdown(sctx), srv.Shutdown(sctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// errInterrupted: ctx ended while the saved graph loaded.
var errInterrupted = errors.New("interrupted")

// loadState restores the saved graph, returning errInterrupted as soon as
// ctx ends: reading stops within a chunk, and a decode in progress is left
// to finish on its own (the process is exiting; nothing saves after it).
func loadState(ctx context.Context, st *state.Saver, logger *slog.Logger) error {
	logger.Info("loading the saved graph", "dir", st.Dir())
	done := make(chan error, 1)
	go func() { done <- st.Load(ctx) }()
	select {
	case err := <-done:
		if err != nil && ctx.Err() != nil {
			return errInterrupted
		}
		return err
	case <-ctx.Done():
		return errInterrupted
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
