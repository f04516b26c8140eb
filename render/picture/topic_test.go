package picture_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/servicegraph/servicegraph/graph"
	"github.com/servicegraph/servicegraph/render/picture"
	"github.com/servicegraph/servicegraph/render/picture/picturetest"
)

// topicView is producer → topic → consumer as --broker-nodes draws it.
func topicView() *graph.View {
	return picturetest.View(
		[]graph.ViewNode{
			picturetest.Svc("billing", 800, 20),
			picturetest.Svc("orders", 800, 0),
			picturetest.Node("orders-topic", graph.TopicNode, 800, 20),
		},
		[]graph.ViewEdge{
			picturetest.Edge("orders", "orders-topic", graph.Messaging, 800, 0, 0),
			picturetest.Edge("orders-topic", "billing", graph.Messaging, 800, 20, 1.5),
		})
}

// TestTopicNodeGolden: a topic node (--broker-nodes) is a green pennant
// (shape cds), outlined by its error rate, in the view and in a diff.
func TestTopicNodeGolden(t *testing.T) {
	var b bytes.Buffer
	if err := picture.WriteDOT(&b, topicView(), picture.Options{}); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "topic.golden.dot")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./render/picture -run TestTopicNodeGolden -update to create it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("DOT differs from %s; got:\n%s", golden, b.String())
	}
	if !strings.Contains(b.String(), `label="orders-topic", tooltip="orders-topic (topic): 800 requests`) ||
		!strings.Contains(b.String(), `shape=cds, style=filled, fillcolor="#e6f4ea"`) {
		t.Errorf("no topic node in:\n%s", b.String())
	}
}
