// Package testutil holds what minipod's tests share: the root-test gate.
package testutil

import (
	"os"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where tests that
// need root and real host parts must fail instead of skipping.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "0" && v != "false"
}

// RequiresRoot skips t when not running as root, and fails it in CI, where a
// skipped end-to-end test would hide a broken environment.
func RequiresRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatalf("test %s needs root, and CI must run it: run the tests as root", t.Name())
	}
	t.Skipf("test %s needs root: skipped outside CI", t.Name())
}

// Require fails t in CI and skips it elsewhere when a prerequisite is missing.
func Require(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("prerequisite missing in CI: %s", what)
	}
	t.Skipf("prerequisite missing: %s", what)
}
