package runtime

import (
	"reflect"
	"testing"
)

func TestWithTerm(t *testing.T) {
	for _, tc := range []struct {
		env, want []string
	}{
		{nil, []string{"TERM=xterm"}},
		{[]string{"PATH=/bin"}, []string{"PATH=/bin", "TERM=xterm"}},
		{[]string{"TERM=vt100", "PATH=/bin"}, []string{"TERM=vt100", "PATH=/bin"}},
		{[]string{"TERM="}, []string{"TERM="}}, // set, if empty: the container's choice
	} {
		in := append([]string(nil), tc.env...)
		if got := withTerm(tc.env); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("withTerm(%q) = %q, want %q", tc.env, got, tc.want)
		}
		if !reflect.DeepEqual(tc.env, in) {
			t.Errorf("withTerm changed its argument to %q", tc.env)
		}
	}
}
