#!/usr/bin/env bash
# Builds the minipod binary from this checkout, with the commit it was built
# from (`minipod version` prints it; "-dirty" when the work tree differs).
#
#   scripts/build-minipod.sh [-o PATH]     default: _output/bin/minipod
#
# The commit is passed with -ldflags rather than Go's own VCS stamping,
# which fails when git refuses the checkout because another user owns it
# (a synced folder built by root): git is asked with safe.directory set for
# this one command. Without git, or outside a clone, the commit is left out.
# $GO names the Go toolchain (default: go on PATH).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$repo_root/_output/bin/minipod
go_bin=${GO:-go}

while [[ $# -gt 0 ]]; do
	case $1 in
	-o)
		out=$2
		shift 2
		;;
	*)
		echo "build-minipod: unknown argument $1; usage: scripts/build-minipod.sh [-o PATH]" >&2
		exit 2
		;;
	esac
done

commit=
if command -v git >/dev/null 2>&1; then
	git_=(git -c "safe.directory=$repo_root" -C "$repo_root")
	if commit=$("${git_[@]}" rev-parse HEAD 2>/dev/null); then
		if ! "${git_[@]}" diff --quiet HEAD -- 2>/dev/null; then
			commit+=-dirty
		fi
	else
		commit=
	fi
fi

cd "$repo_root"
GOTOOLCHAIN=local "$go_bin" build -buildvcs=false -ldflags "-X main.commit=$commit" -o "$out" ./cmd/minipod
