package render_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render"
)

func ExampleWriteDOT() {
	v := &graph.View{
		From: time.Unix(0, 0), To: time.Unix(3600, 0),
		Nodes: []graph.ViewNode{
			{Name: "orders", Kind: graph.ServiceNode, Count: 120},
			{Name: "shipping", Kind: graph.ServiceNode, Count: 120, Failed: 3},
		},
		Edges: []graph.ViewEdge{
			{Client: "orders", Server: "shipping", Kind: graph.Call, Count: 20, Rate: 20.0 / 3600},
			{Client: "orders", Server: "shipping", Kind: graph.Messaging, Count: 100, Failed: 3, Rate: 100.0 / 3600, MeanSeconds: 0.8},
		},
	}
	var b strings.Builder
	if err := render.WriteDOT(&b, v, render.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, `"orders" ->`) {
			fmt.Println(l)
		}
	}
	// Output:
	// "orders" -> "shipping" [id="e_orders_shipping_call_fc4487475a6d60c2", label="20", tooltip="orders → shipping (call): 20 requests, <0.01/s, 0.0% errors", style=solid, arrowhead=normal, color="#4d4d4d", fontcolor="#4d4d4d", penwidth=3.64];
	// "orders" -> "shipping" [id="e_orders_shipping_messaging_system_4fcb2164edc6f46a", label="messaging_system\n100\n3.0% err", tooltip="orders → shipping (messaging_system): 100 requests, 0.03/s, 3.0% errors, mean delay 800ms", style=dashed, arrowhead=vee, color="#e08a00", fontcolor="#e08a00", penwidth=5.00];
}

// A server wires the renderer once; main must dispatch render.WorkerArg (see
// WorkerArg) unless the renderer runs in process, as here.
func ExampleRenderer_Render() {
	cfg := render.NewDefaultConfig()
	cfg.InProcess = true // the offline CLI's choice; servers keep child processes
	r, err := render.New(cfg, render.Settings{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer r.Close()
	v := &graph.View{Nodes: []graph.ViewNode{{Name: "api", Kind: graph.ServiceNode}}}
	out, err := r.Render(context.Background(), "version 1, whole graph", v, render.DOT, render.Options{Title: "demo"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(strings.SplitN(string(out), "\n", 2)[0])
	// Output: digraph "servicegraph" {
}
