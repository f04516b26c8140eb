// Command loadtest drives a running servicegraph over OTLP/gRPC for
// scripts/bench.sh; it is a measuring tool, not part of the service.
//
//	loadtest steady -in W -endpoint HOST:PORT [-duration 30s] [-pid PID] [-api URL]
//
// sends the workload file W (../shared/bench's format) once into a fresh
// process (the "fresh" figure: the span index starts empty), then keeps
// sending it, pass after pass, for -duration without a pause (the "steady"
// figure: the index is full when the input is at least twice
// --max-index-spans, and /metrics is scraped every -scrape-every while it
// runs). Each pass XORs the trace ids (of spans and links; all-zero ids are
// left alone) with the pass number, so every pass is new traffic with the
// workload's shape rather than retried duplicates. With -pid it reads the
// server's CPU time from /proc and reports CPU ns per span.
//
//	loadtest latency -in W -endpoint HOST:PORT -api URL [-edges 100000]
//
// first creates -edges distinct call edges (synthetic services), then sends
// the workload's requests one at a time at -rate requests/s, for -duration
// with the API idle and for -duration while -hammer goroutines per path GET
// each of -paths (default /metrics and /api/graph/data) in a loop, and
// prints the p50, p99 and max export latency of both phases and their p99
// ratio; with -pid, the server's CPU time in each phase and the extra a
// read cost it. The readers run in a child process (loadtest hammer), as
// Prometheus and Grafana would: in the probe's own process they would also
// delay the probe's goroutines (-separate=false does that). The readers
// inflate the gzipped answers, as Prometheus and Grafana do; with
// -inflate=false they read them compressed, as a load generator (wrk)
// does: a diagnostic that keeps the readers' own decoding off the machine's
// cores (at 100k edges a scrape inflates to ~300 MB).
//
//	loadtest hammer -api URL [-paths P1,P2] [-n 2] [-inflate=true]
//
// is that child: it reads until interrupted, then prints its read count.
//
//	loadtest truth -api URL -truth W.truth.json [-timeout 90s]
//
// polls the server's /metrics until its edges (every kind, counts and
// failed; user → X aside) equal the workload's truth, and prints "truth
// exact: ..." or the differences (exit 1).
//
//	loadtest kafka -in W -bin SERVICEGRAPH [-members 3] [-rate 100000] [-truth W.truth.json] [-repeat 1] [-warm=true] [-procs 0] [-kafka-config "fetch_max_wait: 100ms"]
//
// measures the multi-instance mode (issue 14) on an in-process Kafka
// cluster: the servers' CPU per span over OTLP/gRPC, through Kafka with one
// instance and with -members, at the same rate; the p99 of
// servicegraph_kafka_link_resolution_seconds and the link records' size in
// the cluster run; and the cluster's summed edges against the truth (see
// kafka.go). Every server runs with the product's kafka: defaults, or with
// the -kafka-config settings (the body of a YAML flow mapping) in every run.
// Each run first sends the workload under other trace ids (-warm) and
// measures the second pass, in the servers' steady state; a run ends when
// the group has committed every record, as the broker tells. -repeat does
// the runs that many times over and reports the round with the median
// cluster/single ratio, the medians and every round's ratios. -procs sets
// every server's GOMAXPROCS (default: the runtime's).
//
// Every figure is printed on a "result" line of key=value pairs.
package main
