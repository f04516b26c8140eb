// Package picture is the render vocabulary: output formats, picture
// options and their validation, the errors a renderer returns and the hints
// that go with them, and the deterministic DOT text of a graph view
// (graph.View, the result of Snapshot.Query). It lays nothing out.
//
// # Why a package of its own
//
// The Graphviz engine (package render) imports goccy/go-graphviz, whose
// package init compiles Graphviz's WASM in every binary that imports it:
// ~35-80 ms at each start, ~0.9 s and 38 MB the first time on a machine.
// The API, the CLI and their tests need the vocabulary (what a format is,
// which rankdirs exist, which errors mean 422 or 503), not the engine, so
// they import this package and only the program's main wires a
// render.Renderer in. Before the split the API re-declared the formats,
// errors and hint text to avoid the import, and the command glued the two
// sets together with an adapter. A test in package api fails if api or
// this package ever depends on go-graphviz.
//
// # Picture
//
// Services are rounded boxes, databases cylinders, virtual nodes (user,
// uninstrumented peers, the overflow node) grey dashed ellipses. Sync edges
// (call, database, virtual_node) are solid; async edges (messaging_system,
// span_link) are dashed, with an open arrowhead and their kind in the label.
// Edge labels show the count (Options.Label "count") or the rate ("rate")
// and the error percentage when there are errors; colour follows the error
// rate (grey below 1%, orange below 5%, red above) and width the volume
// (1..5, log scale). A legend cluster explains shapes, line styles, colour
// and width. Parallel edges (a call and a span link between the same two
// services) and self-loops are drawn as such.
//
// WriteDOT is deterministic: identical bytes for identical input, whatever
// the order of the view's slices. Node IDs are the exact names, escaped so
// that distinct names stay distinct and the SVG stays well-formed XML (SVG
// <title>s of edges read "client->server"); labels are cut at 40 runes with
// "…". Every node and edge carries a stable SVG element id ("n_…", "e_…":
// a readable part plus a hash of the exact names and kind); legend elements'
// ids start with "legend". The graph is named GraphName, the SVG <title>.
//
// # Diffs
//
// With Options.Diff, WriteDOT draws a graph.Diff instead of the view: the
// same shapes, added nodes and edges green and bold, removed ones faded
// red, changed ones orange with the change in the label, same ones grey;
// async edges stay dashed; the legend explains the colours (ColourAdded,
// ColourRemoved, ColourChanged, ColourSame, shared with the API's Node
// Graph rows). SVG elements keep their ids and get a class diff-<status>.
//
// # Concurrency and ownership
//
// Everything here is safe for concurrent use and keeps no state. WriteDOT
// only reads the view, and only before it returns.
package picture
