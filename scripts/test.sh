#!/usr/bin/env bash
# minipod's test suite: static checks, all test tiers, a bounded fuzz run
# and the race detector. Prints a summary and exits non-zero if any step
# failed. Run as root with CI=true to run (and require) the root and
# end-to-end tiers; elsewhere those tests skip with a reason.
#
#   scripts/test.sh
#
# Environment: MINIPOD_FUZZTIME (default 150000x), MINIPOD_API_FUZZTIME (the
# API request fuzzer, default 30000x), MINIPOD_RACE_PKGS (default
# ./daemon/... ./runtime/...), MINIPOD_TEST_TIMEOUT (go test -timeout,
# default 20m), MINIPOD_VAGRANT_BOOT=1 adds the VM boot tier
# (scripts/test-vagrant-boot.sh, as root on a host with /dev/kvm; bounded by
# MINIPOD_VAGRANT_TIMEOUT, default 90m). The tests find the demo image archive through
# MINIPOD_BUSYBOX_IMAGE (built first, into _output/images/busybox.tar).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# The fuzz budgets are counts of runs, not durations: go1.26's fuzzing
# coordinator can fail a duration-bounded run with a bare "context deadline
# exceeded" when the time runs out under load (golang/go#75804, fixed in
# go1.27). A count has no deadline to race; on a 2-core VM each takes 10-30 s.
fuzztime=${MINIPOD_FUZZTIME:-150000x}
api_fuzztime=${MINIPOD_API_FUZZTIME:-30000x}
test_timeout=${MINIPOD_TEST_TIMEOUT:-20m}
read -r -a race_pkgs <<<"${MINIPOD_RACE_PKGS:-./daemon/... ./runtime/...}"

in_ci() {
	[[ -n ${CI:-} && ${CI:-} != 0 && ${CI:-} != false ]]
}

# As root, the test command installs what every tier needs itself
# (scripts/install.sh --test: containerd, runc, CNI plugins, the registry,
# skopeo, podman and its network stack, ShellCheck, gcc, vagrant, Go), so
# that the README's two commands are all a fresh host needs. As another user
# only the unit tier runs, and the root tiers say why they skip.
if [[ $(id -u) -eq 0 ]]; then
	echo "=== install (scripts/install.sh --test --no-build)"
	if ! bash "$repo_root/scripts/install.sh" --test --no-build; then
		echo "test.sh: scripts/install.sh --test failed" >&2
		exit 1
	fi
elif in_ci; then
	echo "test.sh: CI=$CI needs root: the root and end-to-end tiers must run" >&2
	exit 1
fi

# A Go new enough for go.mod: the one on PATH, or the one install.sh put in
# place.
if ! go_bin=$(bash "$repo_root/scripts/install.sh" --print-go 2>/dev/null); then
	echo "test.sh: no Go new enough for go.mod; run scripts/install.sh (as root)" >&2
	exit 1
fi
PATH=$(dirname "$go_bin"):$PATH
export PATH GOTOOLCHAIN=local

# In CI every tool a tier runs must be here: a missing one fails the run
# instead of letting its tests skip.
if in_ci; then
	missing=()
	for cmd in containerd ctr runc iptables ip curl busybox docker-registry skopeo shellcheck gcc vagrant podman netavark script; do
		command -v "$cmd" >/dev/null || [[ -x /usr/lib/podman/$cmd ]] || missing+=("$cmd")
	done
	if [[ ! -x /usr/lib/cni/bridge && ! -x /opt/cni/bin/bridge ]]; then
		missing+=("CNI plugins (bridge in /usr/lib/cni or /opt/cni/bin)")
	fi
	if ((${#missing[@]})); then
		echo "test.sh: missing prerequisites after install: ${missing[*]}" >&2
		exit 1
	fi
	echo "=== environment"
	echo "go:         $(go version) ($go_bin)"
	echo "containerd: $(containerd --version)"
	echo "runc:       $(runc --version | head -n 1)"
	echo "podman:     $(podman --version)"
	echo "kernel:     $(uname -r), $(nproc) cpus"
fi

names=()
results=()
durations=()
failed=0

# step NAME CMD...: run one step, record its result and time.
step() {
	local name=$1 start rc=0
	shift
	echo
	echo "=== $name"
	start=$SECONDS
	"$@" || rc=$?
	names+=("$name")
	durations+=($((SECONDS - start)))
	if ((rc == 0)); then
		results+=(ok)
	else
		results+=("FAIL (exit $rc)")
		failed=1
	fi
}

# skip NAME REASON: a step that cannot run here. In CI a missing tool is a
# failure, not a skip.
skip() {
	local name=$1 reason=$2
	echo
	echo "=== $name"
	names+=("$name")
	durations+=(0)
	if in_ci; then
		echo "FAIL: $reason (required in CI)"
		results+=("FAIL ($reason)")
		failed=1
	else
		echo "skipped: $reason"
		results+=("skipped ($reason)")
	fi
}

# skip_ok NAME REASON: a step that does not apply yet, in CI too.
skip_ok() {
	echo
	echo "=== $1"
	echo "skipped: $2"
	names+=("$1")
	durations+=(0)
	results+=("skipped ($2)")
}

gofmt_check() {
	local files
	files=$(find . -path ./.git -prune -o -path ./_output -prune -o -name '*.go' -exec gofmt -l {} +)
	if [[ -n $files ]]; then
		echo "gofmt: these files need formatting (gofmt -w):"
		echo "$files"
		return 1
	fi
}

vagrant_validate() {
	local dot rc=0
	dot=$(mktemp -d "${TMPDIR:-/tmp}/minipod-vagrant.XXXXXX")
	VAGRANT_DOTFILE_PATH=$dot vagrant validate --ignore-provider || rc=$?
	rm -rf "$dot"
	return "$rc"
}

# Packages (patterns) that exist and hold Go files.
existing_pkgs() {
	local p
	for p in "$@"; do
		if [[ -n $(find "${p%/...}" -name '*.go' -print -quit 2>/dev/null) ]]; then
			echo "$p"
		fi
	done
}

# The pure packages build for every OS: they are what a dry run, a client
# or a test on a developer's Mac or Windows machine links (and the client
# links no runtime and no containerd: client/deps_test.go).
cross_build() {
	local goos
	for goos in darwin windows; do
		GOOS=$goos go build ./plan ./manifest ./api/... ./client ./supervisor || return
	done
}

export MINIPOD_BUSYBOX_IMAGE=${MINIPOD_BUSYBOX_IMAGE:-$repo_root/_output/images/busybox.tar}

step "go build" go build ./...
step "go vet" go vet ./...
step "go build off Linux" cross_build
step "gofmt" gofmt_check
if command -v shellcheck >/dev/null; then
	step "shellcheck" shellcheck scripts/*.sh .ci/run
else
	skip "shellcheck" "shellcheck not installed"
fi
if command -v vagrant >/dev/null; then
	step "vagrant validate" vagrant_validate
else
	skip "vagrant validate" "vagrant not installed"
fi
if [[ -x /bin/busybox ]]; then
	step "busybox image" bash scripts/build-busybox-image.sh -o "$MINIPOD_BUSYBOX_IMAGE"
else
	skip "busybox image" "busybox-static not installed"
fi

# A real kube-apiserver, etcd and the newest kubectl, built once from the
# Go module proxy and cached (scripts/kube.sh); the end-to-end tier judges
# its corpus of manifests with them (TestAPIServerOracle).
step "kube-apiserver, etcd, kubectl (scripts/kube.sh build)" bash scripts/kube.sh build

# -p 1: the root tiers share host-global state (/run/netns, iptables), and
# a leak checker must not count another package's pods as its own leaks.
# The reliability tests append their figures ("faults: 34 survived of 34,
# leaks 0", ...) here; the summary prints them.
MINIPOD_FIGURES=$(mktemp "${TMPDIR:-/tmp}/minipod-figures.XXXXXX")
export MINIPOD_FIGURES
trap 'rm -f "$MINIPOD_FIGURES"' EXIT
step "go test" go test -p 1 -count=1 -timeout "$test_timeout" ./...

if grep -qs '^func FuzzParse(' manifest/*_test.go; then
	step "fuzz manifest FuzzParse $fuzztime" go test ./manifest -run '^$' -fuzz '^FuzzParse$' -fuzztime "$fuzztime" -timeout 5m
else
	skip_ok "fuzz manifest" "manifest has no FuzzParse yet"
fi

if grep -qs '^func FuzzAPIRequest(' daemon/*_test.go; then
	step "fuzz daemon FuzzAPIRequest $api_fuzztime" go test ./daemon -run '^$' -fuzz '^FuzzAPIRequest$' -fuzztime "$api_fuzztime" -timeout 5m
else
	skip_ok "fuzz daemon" "daemon has no FuzzAPIRequest yet"
fi

mapfile -t race_existing < <(existing_pkgs "${race_pkgs[@]}")
if ((${#race_existing[@]} == 0)); then
	skip_ok "go test -race" "none of ${race_pkgs[*]} exists yet"
elif ! command -v gcc >/dev/null; then
	skip "go test -race" "gcc not installed (the race detector needs cgo)"
else
	step "go test -race" env CGO_ENABLED=1 go test -race -count=1 -timeout "$test_timeout" "${race_existing[@]}"
fi

# The VM boot tier: the Vagrantfile's VM under libvirt, offline. Opt-in
# (MINIPOD_VAGRANT_BOOT=1), in CI too: where /dev/kvm cannot run Debian's
# kernel (a nested host's PVM) QEMU emulates the processor, and on a shared
# 2-core host that took 22 minutes with the box cached and 26 more to build
# the box (after each change of go.mod; README, "Tests"), more than CI's
# time allows on top of the rest. Asked for, a missing
# tool, a failed check or the time bound fails the run, and so, in CI, do no
# root or no /dev/kvm. Its cost line (KVM or emulation, each phase, QEMU's CPU time) is
# printed with the figures below.
if [[ ${MINIPOD_VAGRANT_BOOT:-0} != 1 ]]; then
	skip_ok "vagrant boot" "opt-in: MINIPOD_VAGRANT_BOOT=1 scripts/test.sh"
elif [[ $(id -u) -ne 0 ]]; then
	skip "vagrant boot" "needs root"
elif [[ ! -c /dev/kvm ]]; then
	skip "vagrant boot" "no /dev/kvm on this host"
else
	# --foreground: the signal goes to the test alone, which stops its
	# vagrant and tears the VM and libvirtd down itself.
	step "vagrant boot" timeout --foreground --kill-after=120 "${MINIPOD_VAGRANT_TIMEOUT:-90m}" \
		bash scripts/test-vagrant-boot.sh
fi

echo
echo "=== summary ($(go env GOVERSION), CI=${CI:-unset}, uid $(id -u))"
for i in "${!names[@]}"; do
	printf '  %-34s %5ss  %s\n' "${names[$i]}" "${durations[$i]}" "${results[$i]}"
done
if [[ -s $MINIPOD_FIGURES ]]; then
	echo
	echo "=== figures"
	sed 's/^/  /' "$MINIPOD_FIGURES"
fi
if ((failed)); then
	echo "FAILED"
	exit 1
fi
echo "PASSED"
