// Command countseries parses a Prometheus text exposition from stdin with
// expfmt and prints, as JSON, how many series each family has. It parses a
// family at a time (long families in runs of whole series), so that its
// memory stays small whatever the input's size. The e2e tests build it
// without the race detector, which would make parsing hundreds of
// megabytes take minutes.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func main() {
	counts, err := countSeries(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "countseries:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(counts); err != nil {
		fmt.Fprintln(os.Stderr, "countseries:", err)
		os.Exit(1)
	}
}

func countSeries(r io.Reader) (map[string]int, error) {
	counts := map[string]int{}
	var head, body bytes.Buffer // the family's HELP/TYPE lines; series not yet parsed
	lines := 0
	parse := func() error {
		if body.Len() == 0 {
			return nil
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(io.MultiReader(bytes.NewReader(head.Bytes()), &body))
		if err != nil {
			return err
		}
		for name, f := range fams {
			counts[name] += len(f.GetMetric())
		}
		body.Reset()
		lines = 0
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		l := sc.Bytes()
		if len(l) == 0 {
			continue
		}
		if bytes.HasPrefix(l, []byte("# HELP ")) {
			if err := parse(); err != nil {
				return nil, err
			}
			head.Reset()
		}
		if l[0] == '#' {
			head.Write(l)
			head.WriteByte('\n')
			continue
		}
		body.Write(l)
		body.WriteByte('\n')
		lines++
		// Cut at a series boundary: after any line but a histogram's
		// buckets and sum.
		if name, _, _ := bytes.Cut(l, []byte("{")); lines >= 20000 &&
			!bytes.HasSuffix(name, []byte("_bucket")) && !bytes.HasSuffix(name, []byte("_sum")) {
			if err := parse(); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return counts, parse()
}
