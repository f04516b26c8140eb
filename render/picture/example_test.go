package picture_test

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
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
	if err := picture.WriteDOT(&b, v, picture.Options{}); err != nil {
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
