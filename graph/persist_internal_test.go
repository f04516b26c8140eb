package graph

import (
	"reflect"
	"strings"
	"testing"
)

// StateVersion is the format version this build writes, for the fixture
// tests of package graph_test.
const StateVersion = stateVersion

// The state file holds only the private state* types and built-in ones:
// a public type in it would tie the file format to the API, and renaming
// one of its fields would read old files as zeros.
func TestStateTypesArePrivate(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(path string, ty reflect.Type)
	walk = func(path string, ty reflect.Type) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		if ty.PkgPath() != "" && !strings.HasPrefix(ty.Name(), "state") {
			t.Errorf("%s: %s is not an on-disk state* type", path, ty)
		}
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(path+"[]", ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				f := ty.Field(i)
				walk(path+"."+f.Name, f.Type)
			}
		}
	}
	walk("stateV1", reflect.TypeFor[stateV1]())
}
