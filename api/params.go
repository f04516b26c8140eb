package api

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
)

// Query parameter names, as they appear in URLs and in error bodies.
const (
	ParamFrom     = "from"
	ParamTo       = "to"
	ParamService  = "service"
	ParamDepth    = "depth"
	ParamKinds    = "kinds"
	ParamDir      = "direction" // both (default), downstream or upstream; needs service
	ParamCycles   = "cycles"    // true: only the edges on a cycle
	ParamRankDir  = "rankdir"
	ParamLimit    = "limit"
	ParamEndTs    = "endTs"    // Jaeger: end of the window, Unix milliseconds
	ParamLookback = "lookback" // Jaeger: window length, milliseconds
)

// Windows and limits.
const (
	// DefaultWindow is the window of graph endpoints without from/to.
	DefaultWindow = time.Hour
	// DefaultLookback is Jaeger's default dependencies lookback.
	DefaultLookback = 24 * time.Hour
	// DefaultLimit and MaxLimit bound /api/links/unresolved.
	DefaultLimit = 100
	MaxLimit     = 1000
	// msThreshold: integer times above it are Unix milliseconds (Grafana's
	// ${__from} and ${__to}), at or below it Unix seconds.
	msThreshold = 1e11
	// maxEcho bounds, in bytes, how much of a request's value an error
	// message repeats; longer values are cut and end with "…".
	maxEcho = 128
)

// Accepted times: from the epoch to 2200, so that nanosecond arithmetic
// never overflows.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ParamError is a bad query parameter. Handlers answer it with 400 and a
// JSON body {"error": Msg, "parameter": Param}.
type ParamError struct {
	Param string // the parameter's name, e.g. "from"
	Msg   string // what is wrong, for a person
}

func (e *ParamError) Error() string { return e.Msg }

func paramErr(param, format string, args ...any) *ParamError {
	return &ParamError{Param: param, Msg: fmt.Sprintf(format, args...)}
}

// echo quotes a value a request carried for an error message, cut to
// maxEcho bytes. Every message that repeats request input goes through it.
func echo(s string) string {
	return strconv.Quote(cut(s, maxEcho))
}

// cut returns s if it has at most n bytes, else its first n bytes or fewer
// (never splitting a UTF-8 sequence) followed by "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// ParseQuery parses the filters shared by every graph endpoint: from and to
// (Unix seconds, Unix milliseconds above 1e11, or RFC 3339; default the
// DefaultWindow ending at now), service and depth (default
// graph.DefaultDepth, 0..maxDepth), kinds (comma list; default all),
// direction (both, downstream or upstream; the latter two need a service)
// and cycles (true: only the edges on a cycle).
// Every error is a *ParamError naming the parameter. Whether the service
// exists is left to graph.Snapshot.Query (graph.ErrUnknownService).
func ParseQuery(v url.Values, now time.Time, maxDepth int) (graph.Query, error) {
	q := graph.Query{Service: v.Get(ParamService), Depth: graph.DefaultDepth, Kinds: graph.AllKinds}
	var err error
	if q.To, err = parseTimeParam(v, ParamTo, now); err != nil {
		return q, err
	}
	def := q.To.Add(-DefaultWindow)
	if def.Before(minTime) {
		def = minTime
	}
	if q.From, err = parseTimeParam(v, ParamFrom, def); err != nil {
		return q, err
	}
	if !q.From.Before(q.To) {
		param := ParamFrom
		if v.Get(ParamFrom) == "" {
			param = ParamTo // only to was given, at the epoch
		}
		return q, paramErr(param, "from (%s) must be before to (%s)",
			q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano))
	}
	if s := v.Get(ParamDepth); s != "" {
		d, err := strconv.Atoi(s)
		if err != nil || d < 0 || d > maxDepth {
			return q, paramErr(ParamDepth, "depth must be a whole number from 0 to %d, got %s", maxDepth, echo(s))
		}
		q.Depth = d
	}
	if q.Kinds, err = parseKinds(v.Get(ParamKinds)); err != nil {
		return q, err
	}
	if s := v.Get(ParamDir); s != "" {
		if q.Direction, err = graph.ParseDirection(s); err != nil {
			return q, paramErr(ParamDir, "direction must be both, downstream or upstream, got %s", echo(s))
		}
		if q.Direction != graph.Both && q.Service == "" {
			return q, paramErr(ParamDir, "direction %s needs a service to start from", q.Direction)
		}
	}
	if s := v.Get(ParamCycles); s != "" {
		if q.Cycles, err = strconv.ParseBool(s); err != nil {
			return q, paramErr(ParamCycles, "cycles must be true or false, got %s", echo(s))
		}
	}
	return q, nil
}

// parseKinds is graph.ParseKinds (empty: every kind), with a bad kind
// echoed cut.
func parseKinds(list string) (graph.KindSet, error) {
	if strings.TrimSpace(list) == "" {
		return graph.AllKinds, nil
	}
	var set graph.KindSet
	for _, f := range strings.Split(list, ",") {
		k, err := graph.ParseKind(strings.TrimSpace(f))
		if err != nil {
			var names []string
			for _, k := range graph.Kinds {
				names = append(names, k.String())
			}
			return 0, paramErr(ParamKinds, "kinds: unknown kind %s (want one of %s)", echo(strings.TrimSpace(f)), strings.Join(names, ", "))
		}
		set = set.With(k)
	}
	return set, nil
}

// parseTimeParam returns def when the parameter is absent or empty.
func parseTimeParam(v url.Values, name string, def time.Time) (time.Time, error) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, paramErr(name, "%s %s: %v", name, echo(s), err)
	}
	return t, nil
}

// parseTime accepts Unix seconds, Unix milliseconds (values above 1e11) and
// RFC 3339. A '+' of an offset that arrived unencoded (decoded to a space)
// is put back.
func parseTime(s string) (time.Time, error) {
	var t time.Time
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return t, errors.New("number out of range")
		}
		if n > msThreshold {
			t = time.UnixMilli(n)
		} else {
			t = time.Unix(n, 0)
		}
	} else {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "+", 1)); err != nil {
			return t, errors.New("want Unix seconds, Unix milliseconds or RFC 3339")
		}
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, errors.New("out of range (1970 to 2200)")
	}
	return t, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseRankDir returns one of picture.RankDirs (default the first),
// case-insensitive, with a bad value echoed cut.
func parseRankDir(v url.Values) (string, error) {
	d, err := picture.ParseRankDir(cut(v.Get(ParamRankDir), maxEcho))
	if err != nil {
		return "", &ParamError{Param: ParamRankDir, Msg: err.Error()}
	}
	return d, nil
}

// parseLimit returns DefaultLimit when absent, else 1..MaxLimit.
func parseLimit(v url.Values) (int, error) {
	s := v.Get(ParamLimit)
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, paramErr(ParamLimit, "limit must be a whole number from 1 to %d, got %s", MaxLimit, echo(s))
	}
	return n, nil
}

// parseDependencies parses Jaeger's endTs (Unix ms, default now) and
// lookback (ms, default DefaultLookback) into the window [from, to].
func parseDependencies(v url.Values, now time.Time) (from, to time.Time, err error) {
	to = now
	if s := v.Get(ParamEndTs); s != "" {
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n < 0 || n >= maxTime.UnixMilli() {
			return from, to, paramErr(ParamEndTs, "unable to parse param 'endTs': want Unix milliseconds, got %s", echo(s))
		}
		to = time.UnixMilli(n)
	}
	lookback := DefaultLookback
	if s := v.Get(ParamLookback); s != "" {
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n <= 0 || n > maxTime.UnixMilli() {
			return from, to, paramErr(ParamLookback, "unable to parse param 'lookback': want a positive number of milliseconds, got %s", echo(s))
		}
		lookback = time.Duration(n) * time.Millisecond
	}
	from = to.Add(-lookback)
	if from.Before(minTime) {
		from = minTime
	}
	if !from.Before(to) {
		return from, to, paramErr(ParamEndTs, "endTs must be after the epoch")
	}
	return from, to, nil
}
