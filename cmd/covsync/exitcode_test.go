package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/covsync/covsync/sync/push"
)

// TestExitCodesFollowTheErrorKinds holds main's one mapping: kinds to exit codes, whatever wraps them.
func TestExitCodesFollowTheErrorKinds(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"no error", nil, exitOK},
		{"cobra's own error", errors.New(`unknown flag: --nope`), exitUsage},
		{"failed items", push.Permanent(boom), exitItemFailed},
		{"a configuration error", push.Config(boom), exitUsage},
		{"an unreachable dependency", push.Unreachable(boom), exitDependency},
		{"a fatal target", push.Fatal(boom), exitDependency},
		{"a wrapped configuration error", fmt.Errorf("project shop: %w", push.Config(boom)), exitUsage},
		{"an outage wrapping a configuration error", push.Unreachable(fmt.Errorf("x: %w", push.Config(boom))), exitDependency},
		{"a silent one keeps its kind", silent(push.Permanent(boom)), exitItemFailed},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
	if silent(nil) != nil {
		t.Error("silent(nil) is not nil: a command that succeeded would fail")
	}
}
