package picture

// Colours of a diff's status, the same in the pictures and in the API's
// Node Graph rows: nodes and edges only in the current window are green,
// only in the baseline red (and faded in pictures), in both but past a
// threshold orange, within the thresholds grey.
const (
	ColourAdded   = "#2ca02c"
	ColourRemoved = "#d62728"
	ColourChanged = "#ff7f0e"
	ColourSame    = "#8c8c8c"
)
