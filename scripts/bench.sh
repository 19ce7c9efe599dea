#!/usr/bin/env bash
# minipod's benchmark: pod start, teardown and density, side by side with
# `podman kube play` and the containerd + CNI floor, in one run with the
# systems interleaved. Prints a markdown table and writes it with the raw
# numbers to a results file.
#
#   sudo scripts/bench.sh [--reps N] [--pods N] [--smoke] [-o results.json] [driver flags]
#
# Default results: _output/bench/results-<date>.json and .md. It builds
# minipod and the driver (scripts/bench) into _output/bin, builds the busybox
# image if missing, and installs podman from the distribution if missing.
# Everything it runs is private (own containerd, daemon, podman storage,
# bridges mpb*, subnets in 10.233.0.0/16) and removed at the end.
# `go run ./scripts/bench --help` lists every flag.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit 0
fi
if ((EUID != 0)); then
	echo "bench.sh: needs root (network namespaces, containerd, podman): run it with sudo" >&2
	exit 1
fi

# A Go new enough for go.mod: the one on PATH, or the one install.sh put in
# place.
if ! go_bin=$(bash "$repo_root/scripts/install.sh" --print-go 2>/dev/null); then
	echo "bench.sh: no Go new enough for go.mod; run scripts/install.sh" >&2
	exit 1
fi
PATH=$(dirname "$go_bin"):$PATH
export PATH GOTOOLCHAIN=local

no_podman=0
for a in "$@"; do
	[[ $a == --no-podman ]] && no_podman=1
done
if ((!no_podman)) && ! command -v podman >/dev/null 2>&1; then
	echo "bench.sh: installing podman (the benchmark's peer)" >&2
	if command -v apt-get >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends podman >&2 ||
			{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends podman >&2; }
	else
		echo "bench.sh: no apt-get; install podman yourself, or pass --no-podman" >&2
		exit 1
	fi
fi
for tool in containerd ctr ip skopeo; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench.sh: $tool not found; run scripts/install.sh --test" >&2
		exit 1
	fi
done

mkdir -p _output/bin
bash scripts/build-minipod.sh -o _output/bin/minipod
go build -o _output/bin/minipod-bench ./scripts/bench
image=${MINIPOD_BUSYBOX_IMAGE:-$repo_root/_output/images/busybox.tar}
if [[ ! -f $image ]]; then
	bash scripts/build-busybox-image.sh -o "$image" >&2
fi

exec _output/bin/minipod-bench --repo "$repo_root" --minipod _output/bin/minipod --image "$image" "$@"
