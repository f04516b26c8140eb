#!/usr/bin/env bash
# Measures servicegraph beside ../shared/bench's floor and peer on the same
# workload, in one run, and prints one table with the ratios.
#   floor   pdata decode (+ one read pass): ../shared/bench/limit
#   peer    the contrib servicegraph connector's ConsumeTraces: ../shared/bench/peer
#   ours    in process: raw OTLP protobuf bytes -> pairing -> links -> graph,
#           through pdata and through our wire decoder; 1 and 2 cores
#   tempo   Grafana Tempo's servicegraphs processor (decode + PushSpans):
#           ../shared/bench/tempopeer, built once into $OUT/bin (slow, large)
#   gRPC    grpcsend -> grpcsink (decode + ack only) and grpcsend -> servicegraph
#   steady  servicegraph over OTLP/gRPC with --max-index-spans $STEADY_INDEX:
#           a fresh pass, then rekeyed passes without a pause for
#           $STEADY_SECONDS (input >= 2x the cap: the index is full) while
#           /metrics is scraped (internal/loadtest steady)
#   latency OTLP/gRPC export p99 at $LATENCY_EDGES edges, API idle vs
#           /metrics and /api/graph/data hammered (internal/loadtest latency)
#   kafka   issue 14: ConsumeRecord live and replayed in process (one core),
#           the link record's size (BenchmarkLinkRecord), then on an
#           in-process Kafka cluster at $KAFKA_RATE spans/s: the servers' CPU
#           per span over OTLP/gRPC, through Kafka with one instance and with
#           $KAFKA_MEMBERS, each run in steady state (a warm pass first),
#           $KAFKA_REPEAT rounds with the median reported, link resolution
#           p99, link record bytes on the topic, the members' summed edges
#           vs the truth in every round (loadtest kafka)
# Knobs (the bench's): TRACES=28000 SEED=1 SERVICES=30 BATCH=512 CONCURRENCY=4
# BENCH=../shared/bench OUT=out/bench; ours: STEADY_INDEX=262144
# STEADY_SECONDS=30 LATENCY_EDGES=100000 LATENCY_SECONDS=10 TEMPO=1 (0 skips
# the Tempo peer); KAFKA=1 (0 skips it) KAFKA_RATE=100000 KAFKA_MEMBERS=3
# KAFKA_REPEAT=3 KAFKA_PROCS=0 (the servers' GOMAXPROCS; 0: the runtime's);
# RUNS=5: runs of the in-process steady/fresh and replay benchmarks, whose
# single runs spread ±20-50 % on a 2-core VM (fresh and steady, and the
# replay modes, alternate within each run; the medians are reported).
# Takes about 8.5 minutes on 2 cores, plus Tempo's first build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
ROOT=$PWD
BENCH=$(cd "${BENCH:-../shared/bench}" && pwd)
OUT=${OUT:-out/bench}
TRACES=${TRACES:-28000} SEED=${SEED:-1} SERVICES=${SERVICES:-30} BATCH=${BATCH:-512} CONCURRENCY=${CONCURRENCY:-4}
STEADY_INDEX=${STEADY_INDEX:-262144} STEADY_SECONDS=${STEADY_SECONDS:-30}
LATENCY_EDGES=${LATENCY_EDGES:-100000} LATENCY_SECONDS=${LATENCY_SECONDS:-10} TEMPO=${TEMPO:-1}
KAFKA=${KAFKA:-1} KAFKA_RATE=${KAFKA_RATE:-100000} KAFKA_MEMBERS=${KAFKA_MEMBERS:-3} RUNS=${RUNS:-5}
KAFKA_REPEAT=${KAFKA_REPEAT:-3} KAFKA_PROCS=${KAFKA_PROCS:-0}
mkdir -p "$OUT/bin"
OUT=$(cd "$OUT" && pwd)
W=$OUT/workload.otlp

echo "building the bench tools and servicegraph" >&2
(cd "$BENCH" && GONOSUMDB=github.com/open-telemetry/opentelemetry-collector-contrib \
  go build -o "$OUT/bin/" ./gen ./limit ./peer ./grpcsend ./grpcsink)
go build -o "$OUT/bin/servicegraph" ./cmd/servicegraph
go build -o "$OUT/bin/loadtest" ./internal/loadtest
if [ "$TEMPO" = 1 ] && [ ! -x "$OUT/bin/tempopeer" ]; then
  # Built from a copy, so that -mod=mod never rewrites the shared module.
  echo "building Tempo's processor (first time only: large download)" >&2
  rm -rf "$OUT/src/tempopeer"; mkdir -p "$OUT/src"; cp -r "$BENCH/tempopeer" "$OUT/src/"
  if ! (cd "$OUT/src/tempopeer" && GOFLAGS='-mod=mod -buildvcs=false' \
    GONOSUMDB=github.com/grafana/tempo,github.com/parquet-go go build -o "$OUT/bin/tempopeer" .); then
    echo "Tempo's processor did not build: its row is skipped" >&2
    TEMPO=0
  fi
fi
"$OUT/bin/gen" -seed "$SEED" -services "$SERVICES" -traces "$TRACES" -batch "$BATCH" -out "$W" > "$OUT/gen.txt"
SPANS=$(grep -o '"spans": [0-9]*' "$W.truth.json" | grep -o '[0-9]*$')

echo "floor and peer" >&2
"$OUT/bin/limit" -in "$W" > "$OUT/limit.txt"
"$OUT/bin/peer" -in "$W" > "$OUT/peer.txt"
rm -f "$OUT/tempo.txt"
if [ "$TEMPO" = 1 ]; then
  echo "Tempo's processor (waits out its 10 s edge expiry)" >&2
  "$OUT/bin/tempopeer" -in "$W" > "$OUT/tempo.txt"
fi

echo "servicegraph in process (truth check, benchmarks)" >&2
export SERVICEGRAPH_WORKLOAD=$W
go test ./pairing -run 'TestWorkloadTruth$' -count=1 -v > "$OUT/truth.txt"
go test ./pairing -run '^$' -count=1 -benchtime 5x -cpu 2 \
  -bench 'BenchmarkConsume$|BenchmarkDecodeConsume$|BenchmarkDecodeConsumeProto$|BenchmarkRetained$' > "$OUT/ours.txt"
go test ./pairing -run '^$' -count="$RUNS" -benchtime 5x -cpu 2 -bench 'BenchmarkSteadyConsume$' > "$OUT/steady-inproc.txt"
go test ./pairing -run '^$' -count=1 -benchtime 5x -cpu 1,2 -bench 'BenchmarkParallel$' > "$OUT/scaling.txt"
go test ./pairing -run '^$' -count=1 -benchtime 3x -bench 'BenchmarkIndexMemory$' > "$OUT/index.txt"

echo "gRPC: grpcsink, then servicegraph" >&2
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=$(port)
"$OUT/bin/grpcsink" -listen "127.0.0.1:$P" -spans "$SPANS" -timeout 2m > "$OUT/grpcsink.txt" &
sink=$!
"$OUT/bin/grpcsend" -in "$W" -endpoint "127.0.0.1:$P" -concurrency "$CONCURRENCY" > "$OUT/grpc-sink.txt"
wait "$sink"
# Default flags, at the highest rate grpcsend reaches: then the edges on
# /metrics must equal the truth (loadtest truth waits out --pair-wait).
# Databases are named by the truth's rule (db.name, else db.system; ours
# puts server.address before db.system by default: internal/workload).
P=$(port) H=$(port)
"$OUT/bin/servicegraph" serve --otlp-grpc-addr "127.0.0.1:$P" --otlp-http-addr '' --http-addr "127.0.0.1:$H" \
  --data-dir '' --log-level warn --database-name-attributes db.namespace,db.name,db.system.name,db.system \
  2> "$OUT/servicegraph.log" &
sg=$!
trap 'kill $sg 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$P") 2>/dev/null && break; sleep 0.1; done
"$OUT/bin/grpcsend" -in "$W" -endpoint "127.0.0.1:$P" -concurrency "$CONCURRENCY" > "$OUT/grpc-ours.txt"
"$OUT/bin/loadtest" truth -api "http://127.0.0.1:$H" -truth "$W.truth.json" > "$OUT/grpc-truth.txt" 2>&1 || true
kill "$sg"; wait "$sg" 2>/dev/null || true

# serve_ours ARGS...: a fresh servicegraph on free ports; sets sg, P, H.
serve_ours() {
  P=$(port) H=$(port)
  "$OUT/bin/servicegraph" serve --otlp-grpc-addr "127.0.0.1:$P" --otlp-http-addr '' --http-addr "127.0.0.1:$H" \
    --data-dir '' --log-level warn "$@" 2>> "$OUT/servicegraph.log" &
  sg=$!
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$P") 2>/dev/null && break; sleep 0.1; done
}
echo "steady state: --max-index-spans $STEADY_INDEX, ${STEADY_SECONDS}s sustained, /metrics scraped" >&2
serve_ours --max-index-spans "$STEADY_INDEX"
"$OUT/bin/loadtest" steady -in "$W" -endpoint "127.0.0.1:$P" -api "http://127.0.0.1:$H" -pid "$sg" \
  -concurrency "$CONCURRENCY" -duration "${STEADY_SECONDS}s" > "$OUT/steady.txt"
curl -fsS "http://127.0.0.1:$H/metrics" | grep -E '^servicegraph_(span_index|spans_)' > "$OUT/steady-metrics.txt" || true
kill "$sg"; wait "$sg" 2>/dev/null || true

echo "ingest latency at $LATENCY_EDGES edges: API idle vs hammered" >&2
serve_ours --max-edges $((LATENCY_EDGES + 20000))
"$OUT/bin/loadtest" latency -in "$W" -endpoint "127.0.0.1:$P" -api "http://127.0.0.1:$H" -pid "$sg" \
  -edges "$LATENCY_EDGES" -duration "${LATENCY_SECONDS}s" > "$OUT/latency.txt"
kill "$sg"; wait "$sg" 2>/dev/null || true

rm -f "$OUT/kafka-pairing.txt" "$OUT/kafka-linkrecord.txt" "$OUT/kafka.txt"
if [ "$KAFKA" = 1 ]; then
  echo "Kafka: pairing alone (one core), the link record, then $KAFKA_MEMBERS members vs one vs OTLP/gRPC at $KAFKA_RATE spans/s" >&2
  go test ./pairing -run '^$' -count="$RUNS" -benchtime 2x -cpu 1 \
    -bench 'BenchmarkConsumeRecord/(otlp|live|replay|replay-window)$' > "$OUT/kafka-pairing.txt" || echo "kafka: pairing benchmarks failed" >&2
  go test ./kafka -run '^$' -count=1 -bench 'BenchmarkLinkRecord$' > "$OUT/kafka-linkrecord.txt" || echo "kafka: BenchmarkLinkRecord failed" >&2
  # A failure here leaves the other sections' figures printed.
  "$OUT/bin/loadtest" kafka -in "$W" -bin "$OUT/bin/servicegraph" -truth "$W.truth.json" -members "$KAFKA_MEMBERS" \
    -rate "$KAFKA_RATE" -repeat "$KAFKA_REPEAT" -procs "$KAFKA_PROCS" -log "$OUT/servicegraph.log" > "$OUT/kafka.txt" 2>&1 || echo "kafka: loadtest kafka failed: see $OUT/kafka.txt" >&2
fi

python3 - "$OUT" "$SPANS" <<'PY'
import re, sys
out, spans = sys.argv[1], int(sys.argv[2])
def read(name): return open(f"{out}/{name}").read()
def kv(line): return dict(x.split("=", 1) for x in line.split()[2:])
limit_lines = read("limit.txt")
decode_ns = float(re.search(r"limit: decode +\d+ spans .*? (\d+) ns/span", limit_lines).group(1))
lim = kv(next(l for l in limit_lines.splitlines() if l.startswith("result limit")))
peer = kv(next(l for l in read("peer.txt").splitlines() if l.startswith("result peer")))
def bench(text, name, cpu="2"):
    runs = benches(text, name, cpu)
    return runs[0] if runs else {}
def benches(text, name, cpu="2"):
    """Every run of a benchmark (go test -count), in order."""
    pat = rf"^{name}-{cpu}\s+\d+\s+(.*)$" if cpu != "1" else rf"^{name}\s+\d+\s+(.*)$"
    out = []
    for m in re.finditer(pat, text, re.M):
        f = m.group(1).split()
        out.append({f[i+1]: float(f[i]) for i in range(0, len(f) - 1, 2)})
    return out
def median(xs):
    s = sorted(xs); n = len(s)
    return 0 if n == 0 else s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
def medians(runs):
    """The median of each metric over runs."""
    return {k: median([r[k] for r in runs if k in r]) for k in runs[0]} if runs else {}
ours = read("ours.txt"); scal = read("scaling.txt")
con, dec, pro, ret = (bench(ours, n) for n in ("BenchmarkConsume", "BenchmarkDecodeConsume", "BenchmarkDecodeConsumeProto", "BenchmarkRetained"))
p1, p2 = bench(scal, "BenchmarkParallel", "1"), bench(scal, "BenchmarkParallel", "2")
idx = bench(read("index.txt"), "BenchmarkIndexMemory")
gs = float(re.search(r"([\d.]+) spans/s acknowledged", read("grpc-sink.txt")).group(1))
go = float(re.search(r"([\d.]+) spans/s acknowledged", read("grpc-ours.txt")).group(1))
peer_ns = float(peer["ns_per_span"]); collector_ns = decode_ns + peer_ns
rows = [
    ("floor: pdata decode only (limit)", 1e9 / decode_ns, decode_ns, float(lim["allocs_per_span"]), float(lim["bytes_per_span"])),
    ("floor: pdata decode + read (limit)", float(lim["spans_per_s"]), float(lim["ns_per_span"]), float(lim["allocs_per_span"]), float(lim["bytes_per_span"])),
    ("peer: connector ConsumeTraces only", float(peer["spans_per_s"]), peer_ns, float(peer["allocs_per_span"]), float(peer["bytes_per_span"])),
    ("peer as a collector runs it (decode + consume)", 1e9 / collector_ns, collector_ns, None, None),
    ("ours: ConsumeTraces only (decoded pdata in)", con.get("spans/s", 0), con.get("ns/span", 0), con.get("allocs/span", 0), con.get("B/span", 0)),
    ("ours: pdata decode + pairing + graph", dec.get("spans/s", 0), dec.get("ns/span", 0), dec.get("allocs/span", 0), dec.get("B/span", 0)),
    ("ours: wire decode + pairing + graph", pro.get("spans/s", 0), pro.get("ns/span", 0), pro.get("allocs/span", 0), pro.get("B/span", 0)),
]
print(f"\n{'':48} {'spans/s':>10} {'ns/span':>8} {'allocs/span':>12} {'B/span':>8}")
for name, sps, ns, a, b in rows:
    print(f"{name:48} {sps:10.0f} {ns:8.0f} {'' if a is None else f'{a:.2f}':>12} {'' if b is None else f'{b:.0f}':>8}")
best = pro.get("ns/span") or dec.get("ns/span")
print()
print(f"ours vs peer as a collector runs it: {collector_ns / best:.2f}x the throughput (target >= 2x)")
print(f"ours vs the pdata decode floor: {best / decode_ns:.2f}x its time per span (target <= 1.3x; < 1 beats the floor)")
if p1 and p2:
    print(f"scaling, raw requests from GOMAXPROCS goroutines: 1 core {p1['spans/s']:.0f} spans/s, 2 cores {p2['spans/s']:.0f} spans/s: {p2['spans/s'] / p1['spans/s']:.2f}x (target >= 1.7x)")
print(f"OTLP/gRPC on loopback, concurrency 4: grpcsink {gs:.0f} spans/s, servicegraph {go:.0f} spans/s: {go / gs:.2f}x (target >= 0.8x)")
if ret:
    pr = float(peer["retained_mb"])
    ratio = f"{ret['MB-retained'] / pr:.2f}x (target <= 0.33x)" if pr > 0 else "no ratio: the connector's figure (live heap minus its estimate of the decoded input) came out 0 this run"
    print(f"retained heap after the workload: ours {ret['MB-retained']:.0f} MB; connector {pr:.0f} MB retained, {peer['peak_mb']} MB peak incl. garbage: {ratio}")
if idx:
    print(f"span index: {idx['B/indexed-span']:.1f} B per indexed span at 1M (target <= 48)")

# Steady state beside the peers. In process: the peers and ours
# (BenchmarkSteadyConsume: index capped at half the workload, pre-filled);
# over OTLP/gRPC: ours fresh and steady (wall, and the server's CPU per span
# from /proc, transport included).
def result(name, tag):
    try: text = read(name)
    except FileNotFoundError: return {}
    m = re.search(rf"^result {tag} (.*)$", text, re.M)
    return dict(x.split("=", 1) for x in m.group(1).split()) if m else {}
tempo = result("tempo.txt", "tempo")
fresh, steady = result("steady.txt", "fresh"), result("steady.txt", "steady")
lat_i, lat_h, lat = result("latency.txt", "latency_idle"), result("latency.txt", "latency_hammered"), result("latency.txt", "latency")
tempo_ns = float(tempo["decode_ns"]) + float(tempo["push_ns"]) if tempo else None
print(f"\n{'steady state, side by side':48} {'spans/s':>10} {'ns/span':>8}  note")
srows = [
    ("floor: pdata decode only", 1e9 / decode_ns, decode_ns, "in process"),
    ("connector as a collector runs it", 1e9 / collector_ns, collector_ns, "in process, decode + ConsumeTraces"),
    ("Tempo processor as deployed", 1e9 / tempo_ns if tempo_ns else 0, tempo_ns or 0, "in process, gogo decode + PushSpans" if tempo_ns else "not run (TEMPO=0)"),
]
# Fresh then steady in each of RUNS runs: the medians of each, and of the
# runs' steady/fresh ratios.
sin = read("steady-inproc.txt")
sfr, sst = benches(sin, "BenchmarkSteadyConsume/fresh"), benches(sin, "BenchmarkSteadyConsume/steady")
sfresh, ssteady = medians(sfr), medians(sst)
sratio = [s["ns/span"] / f["ns/span"] for f, s in zip(sfr, sst)]
scpu = [s["cpu-ns/span"] / f["cpu-ns/span"] for f, s in zip(sfr, sst) if "cpu-ns/span" in s and "cpu-ns/span" in f]
if sfresh and ssteady:
    srows.append(("ours fresh, in process (wire decode, index grows)", sfresh["spans/s"], sfresh["ns/span"], f"{sfresh['allocs/span']:.2f} allocs/span; median of {len(sfr)} runs"))
    srows.append(("ours steady, in process (index full, evicting)", ssteady["spans/s"], ssteady["ns/span"], f"{ssteady['allocs/span']:.2f} allocs/span; median of {len(sst)} runs"))
if fresh:
    srows.append(("ours fresh, OTLP/gRPC (first pass)", float(fresh["spans_per_s"]), float(fresh["ns_per_span"]), f"wall; server CPU {fresh.get('cpu_ns_per_span', '?')} ns/span"))
if steady:
    srows.append((f"ours steady, OTLP/gRPC (index full, scraped)", float(steady["spans_per_s"]), float(steady["ns_per_span"]), f"wall over {steady['seconds']} s; server CPU {steady.get('cpu_ns_per_span', '?')} ns/span"))
srows += [("gRPC: grpcsink (decode + ack)", gs, 1e9 / gs, "wall, fresh"), ("gRPC: servicegraph, fresh", go, 1e9 / go, "wall, default flags")]
for name, sps, ns, note in srows:
    print(f"{name:48} {sps:10.0f} {ns:8.0f}  {note}")
print()
if sfresh and ssteady:
    print(f"steady vs fresh in process: {median(sratio):.2f}x the time per span, median of {len(sratio)} runs "
          f"(runs {min(sratio):.2f}-{max(sratio):.2f}x; CPU per span {median(scpu):.2f}x) (target <= 1.1x)")
    print(f"ours at steady state vs the connector as a collector runs it: {collector_ns / ssteady['ns/span']:.2f}x (target >= 3x; in process both)")
    if tempo_ns:
        print(f"ours at steady state vs Tempo's processor as deployed: {tempo_ns / ssteady['ns/span']:.2f}x (target >= 3x; in process both)")
if fresh and steady:
    print(f"steady vs fresh over OTLP/gRPC: {float(steady['ns_per_span']) / float(fresh['ns_per_span']):.2f}x the wall time per span (target <= 1.1x)", end="")
    if "cpu_ns_per_span" in steady and "cpu_ns_per_span" in fresh:
        print(f"; {float(steady['cpu_ns_per_span']) / float(fresh['cpu_ns_per_span']):.2f}x the server CPU per span")
    else:
        print()
    if "cpu_ns_per_span" in steady:
        cpu = float(steady["cpu_ns_per_span"])
        vs_tempo = f", Tempo's {tempo_ns / cpu:.2f}x" if tempo_ns else ""
        print(f"ours over OTLP/gRPC at steady state, server CPU per span (gRPC included) vs in-process peers: the connector's {collector_ns / cpu:.2f}x{vs_tempo}")
    print(f"OTLP/gRPC at steady state vs grpcsink: {float(steady['spans_per_s']) / gs:.2f}x")
if lat:
    print(f"ingest latency at {lat['edges']} edges, one export at a time: p99 {lat_i['p99_ms']} ms idle, {lat_h['p99_ms']} ms while /metrics and /api/graph/data are hammered ({lat['reads']} reads, {lat['read_errors']} failed): {lat['p99_ratio']}x (target <= 1.2x)")
g = read("grpc-truth.txt").strip().splitlines()
print(f"OTLP/gRPC at {go:,.0f} spans/s with default flags, edges on /metrics vs the truth: {g[0] if g else 'no answer'}")
t = read("truth.txt")
m = re.search(r"exact: (.*?); stats", t)
print(f"correctness vs the truth file: {'exact, ' + m.group(1) if m and '--- PASS' in t else 'FAILED: see ' + out + '/truth.txt'}")

# Kafka mode (issue 14): ../README.md's Performance, "Kafka mode".
try: kp = read("kafka-pairing.txt")
except FileNotFoundError: kp = None
if kp is not None:
    def cr(mode):
        """The median over the runs (RUNS) of a mode's spans per CPU second."""
        return median([float(m.group(1)) for m in re.finditer(rf"^BenchmarkConsumeRecord/{re.escape(mode)}\s+\d+\s+.*?([\d.]+) cpu-spans/s", kp, re.M)])
    o, l, r, rw = cr("otlp"), cr("live"), cr("replay"), cr("replay-window")
    kg, ks, kc = result("kafka.txt", "kafka_grpc"), result("kafka.txt", "kafka_single"), result("kafka.txt", "kafka_cluster")
    try: lr = re.search(r"([\d.]+) B/record", read("kafka-linkrecord.txt"))
    except FileNotFoundError: lr = None
    print(f"\nKafka mode (issue 14)")
    print(f"pairing alone, spans per CPU second on one core: ConsumeTracesProto {o:,.0f}, ConsumeRecord live {l:,.0f} ({l / o:.2f}x)" if o else "pairing alone: not measured")
    print(f"replay, index-only: {rw:,.0f} spans per CPU second with records over the default 60 s window, {r:,.0f} with all of them within --pair-wait of the handover (target >= 2 M; medians of the runs)")
    kr = result("kafka.txt", "kafka_ratios")
    rounds = lambda k: f" (rounds {kr[k].replace(',', ', ')})" if k in kr else ""
    if kg and ks:
        print(f"Kafka consume path vs OTLP/gRPC, servers' CPU per span at {int(kg['spans']) / float(kg['wall_s']):,.0f} spans/s, steady state: "
              f"{ks['cpu_ns_per_span']} vs {kg['cpu_ns_per_span']} ns in the median round: {kr.get('kafka_vs_grpc', '?')}x the spans per core at the median{rounds('kafka_vs_grpc_rounds')} (target >= 0.8x)")
    if ks and kc:
        print(f"cluster of {kc['members']} vs one instance, CPU per span through Kafka, steady state: {kc['cpu_ns_per_span']} vs {ks['cpu_ns_per_span']} ns in the median round: "
              f"{kr.get('cluster_vs_single', '?')}x at the median{rounds('cluster_vs_single_rounds')} (target <= 1.1x); {kc.get('links_routed', '0')} link records routed (one instance: {ks.get('links_routed', '0')})")
    if kc.get("link_record_bytes"):
        print(f"link record: {kc['link_record_bytes']} B on the links topic (key {float(kc['link_record_bytes']) - float(kc['link_value_bytes']):.0f} + value {kc['link_value_bytes']}); "
              f"BenchmarkLinkRecord {lr.group(1) if lr else '?'} B (target <= 200 B)")
    if kc.get("link_resolution_n"):
        print(f"link resolution (servicegraph_kafka_link_resolution_seconds, {kc['link_resolution_n']} links, the cluster run): "
              f"p99 {kc['link_p99_ms']} ms (bucket le {kc['link_p99_le_s']} s), p50 {kc['link_p50_ms']} ms (target p99 <= 1 s)")
    try: m = re.search(r"^kafka_cluster truth: (.*)$", read("kafka.txt"), re.M)
    except FileNotFoundError: m = None
    if m:
        print(f"the {kc['members']} members' edges summed vs the truth: {m.group(1)}")
PY
