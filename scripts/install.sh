#!/usr/bin/env bash
# Installs what minipod needs on Debian 12 or Ubuntu 22.04+ and builds it.
# Run as root; safe to run again (it only installs what is missing).
#
#   scripts/install.sh [--test] [--no-build]
#   scripts/install.sh --print-go     print the path of a Go new enough for go.mod
#
#   --test       also install the test dependencies (docker-registry, skopeo,
#                ShellCheck, gcc for -race, chromium, node and npm for the live
#                view's browser test; and vagrant, vagrant-libvirt, libvirt,
#                QEMU and debootstrap for the VM boot tier, if the archive has
#                them); same as MINIPOD_INSTALL_TEST=1
#   --no-build   do not build /usr/local/bin/minipod (nor install its
#                README as /usr/local/share/doc/minipod/README.md)
#
# Go: a `go` on PATH or /usr/local/go/bin/go is used if it is at least the
# version of go.mod's `go` line. Otherwise Debian's golang-go (too old to
# build minipod, but able to fetch modules) downloads that Go release as the
# module golang.org/toolchain through the configured Go module proxy, into
# /usr/local/lib/minipod-go.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go_home=/usr/local/lib/minipod-go
minipod_bin=/usr/local/bin/minipod
doc_dir=/usr/local/share/doc/minipod
sysctl_conf=/etc/sysctl.d/99-minipod.conf

runtime_pkgs=(containerd runc containernetworking-plugins iptables iproute2 busybox-static ca-certificates curl)
# Every package a test or the benchmark runs, by name: apt-get runs with
# --no-install-recommends, and podman only recommends its network stack
# (netavark, aardvark-dns) and the init its pods' infra container runs
# (catatonit), so a fresh host would lack them. The live view's browser
# test drives Debian's chromium with playwright-core, which the test itself
# installs from the npm registry into the user's cache.
test_pkgs=(docker-registry skopeo shellcheck gcc libc6-dev podman netavark aardvark-dns catatonit conmon util-linux openssl chromium nodejs)
# The VM boot tier (scripts/test-vagrant-boot.sh): vagrant with its libvirt
# plugin, libvirt's daemon and QEMU driver (not libvirt-daemon-system, whose
# default NAT network and systemd units the tier does not use), QEMU with
# KVM, libvirt's DHCP server, and what scripts/build-vagrant-box.sh builds
# the box with.
optional_test_pkgs=(vagrant vagrant-libvirt libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
	qemu-system-x86 qemu-utils dnsmasq-base debootstrap e2fsprogs rsync)

with_test=0
[[ ${MINIPOD_INSTALL_TEST:-0} == 1 ]] && with_test=1
build=1
print_go=0

usage() {
	sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--test) with_test=1 ;;
	--no-build) build=0 ;;
	--print-go) print_go=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "install.sh: unknown option $1" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

die() {
	echo "install.sh: $*" >&2
	exit 1
}

# What was done, printed at the end.
did=()

log_file=$(mktemp "${TMPDIR:-/tmp}/minipod-install.XXXXXX")
trap 'rm -f "$log_file"' EXIT

# quietly CMD...: run CMD with its output in the log; show the log on failure.
quietly() {
	if ! "$@" >"$log_file" 2>&1; then
		echo "install.sh: failed: $*" >&2
		cat "$log_file" >&2
		exit 1
	fi
}

# ---- Go toolchain --------------------------------------------------------

# The version go.mod asks for, as a Go release name without "go": "1.26.6".
# Since Go 1.21 a bare "1.N" means the release "1.N.0".
required_go() {
	local v
	v=$(awk '$1 == "go" { print $2; exit }' "$repo_root/go.mod")
	[[ -n $v ]] || die "no go line in $repo_root/go.mod"
	if [[ $v =~ ^1\.([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 21)); then
		v=$v.0
	fi
	echo "$v"
}

# go_version GO: the release of that go binary ("1.26.8"), empty if it fails.
go_version() {
	local v
	v=$(GOTOOLCHAIN=local GOFLAGS='' "$1" env GOVERSION 2>/dev/null) || return 0
	v=${v%% *}
	echo "${v#go}"
}

# version_ge A B: is release A at least release B?
version_ge() {
	[[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1) == "$2" ]]
}

# find_go: print the first go binary new enough for go.mod.
find_go() {
	local want candidate v
	want=$(required_go)
	for candidate in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go "$go_home/go/bin/go"; do
		[[ -n $candidate && -x $candidate ]] || continue
		v=$(go_version "$candidate")
		if [[ -n $v ]] && version_ge "$v" "$want"; then
			echo "$candidate"
			return 0
		fi
	done
	return 1
}

go_arch() {
	case $(uname -m) in
	x86_64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	armv6l | armv7l) echo armv6l ;;
	i386 | i686) echo 386 ;;
	ppc64le) echo ppc64le ;;
	s390x) echo s390x ;;
	riscv64) echo riscv64 ;;
	*) die "no Go release for machine $(uname -m)" ;;
	esac
}

# fetch_go: download Go $(required_go) as the module golang.org/toolchain
# with whichever (older) go is at hand, and unpack it to $go_home/go<VERSION>.
fetch_go() {
	local want boot mod gopath json dir dest
	want=$(required_go)
	boot=$(command -v go 2>/dev/null || true)
	[[ -n $boot ]] || boot=/usr/local/go/bin/go
	if [[ ! -x $boot ]]; then
		apt_install golang-go
		boot=/usr/bin/go
	fi
	mod="golang.org/toolchain@v0.0.1-go$want.linux-$(go_arch)"
	gopath=$go_home/gopath
	mkdir -p "$gopath" "$go_home/empty"
	# Run outside any module (an empty directory) so no go.mod is consulted;
	# GOPROXY and GOSUMDB are left as the environment configures them.
	if ! json=$(cd "$go_home/empty" && env GOPATH="$gopath" GOMODCACHE="$gopath/pkg/mod" \
		GO111MODULE=on GOFLAGS='' GOTOOLCHAIN=local "$boot" mod download -json "$mod" 2>"$log_file"); then
		cat "$log_file" >&2
		printf '%s\n' "$json" >&2
		die "failed to download Go $want ($mod) with $boot"
	fi
	dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[[ -n $dir && -f $dir/bin/go ]] || die "download of $mod gave no Go distribution (output: $json)"
	dest=$go_home/go$want
	rm -rf "$dest.tmp"
	cp -R "$dir" "$dest.tmp"
	# Module zips carry no permissions: make the tree writable by root and
	# the commands executable, as the go command does for its own toolchains.
	chmod -R u+w "$dest.tmp"
	chmod 0755 "$dest.tmp"/bin/* "$dest.tmp"/pkg/tool/*/*
	rm -rf "$dest"
	mv "$dest.tmp" "$dest"
	ln -sfn "go$want" "$go_home/go"
	# Releases this script installed for an older go.mod are no longer used.
	local old
	for old in "$go_home"/go1.*; do
		[[ $old == "$dest" ]] || rm -rf "$old"
	done
	# The module cache is read-only by design; `go clean -modcache` empties it.
	env GOPATH="$gopath" GOMODCACHE="$gopath/pkg/mod" GOFLAGS='' "$boot" clean -modcache >/dev/null 2>&1 || true
	rm -rf "$gopath" "$go_home/empty"
	[[ $(go_version "$go_home/go/bin/go") == "$want" ]] || die "Go in $dest does not run"
	# Offer it as `go` on the default PATH unless something else is there.
	local tool
	for tool in go gofmt; do
		if [[ ! -e /usr/local/bin/$tool || $(readlink /usr/local/bin/$tool) == "$go_home/go/bin/$tool" ]]; then
			ln -sfn "$go_home/go/bin/$tool" "/usr/local/bin/$tool"
		fi
	done
	did+=("installed Go $want in $dest (linked from /usr/local/bin/go)")
}

if ((print_go)); then
	find_go || die "no Go >= $(required_go) found; run scripts/install.sh"
	exit 0
fi

# ---- packages ------------------------------------------------------------

[[ $(id -u) -eq 0 ]] || die "run as root (sudo $0)"
command -v apt-get >/dev/null || die "needs apt-get: minipod installs on Debian 12 or Ubuntu 22.04+"
if [[ -r /etc/os-release ]]; then
	# shellcheck source=/dev/null
	. /etc/os-release
	case " ${ID:-} ${ID_LIKE:-} " in
	*" debian "* | *" ubuntu "*) ;;
	*) echo "install.sh: warning: ${PRETTY_NAME:-this system} is not Debian or Ubuntu; trying anyway" >&2 ;;
	esac
fi
export DEBIAN_FRONTEND=noninteractive

apt_updated=0
apt_update_once() {
	((apt_updated)) && return 0
	quietly apt-get update -q
	apt_updated=1
}

pkg_installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

pkg_available() {
	local candidate
	apt_update_once
	candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	[[ -n $candidate && $candidate != "(none)" ]]
}

# apt_install PKG...: install the packages that are not installed yet.
apt_install() {
	local p missing=()
	for p in "$@"; do
		pkg_installed "$p" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	apt_update_once
	for p in "${missing[@]}"; do
		pkg_available "$p" || die "package $p is not in the apt archive (on Ubuntu, enable the universe component)"
	done
	quietly apt-get install -y -q --no-install-recommends "${missing[@]}"
	did+=("installed ${missing[*]}")
}

apt_install "${runtime_pkgs[@]}"
if ((with_test)); then
	apt_install "${test_pkgs[@]}"
	# Debian's nodejs leaves npm to a package of its own; a nodejs from
	# elsewhere (NodeSource's, on some hosts) carries npm and conflicts
	# with Debian's npm package.
	command -v npm >/dev/null || apt_install npm
	available=()
	for p in "${optional_test_pkgs[@]}"; do
		pkg_installed "$p" && continue
		if pkg_available "$p"; then
			available+=("$p")
		else
			did+=("skipped $p: not in the apt archive")
		fi
	done
	((${#available[@]} == 0)) || apt_install "${available[@]}"
fi

# ---- Go ------------------------------------------------------------------

if go_bin=$(find_go); then
	did+=("using Go $(go_version "$go_bin") at $go_bin (go.mod wants >= $(required_go))")
else
	fetch_go
	go_bin=$(find_go) || die "Go $(required_go) was installed but is not found"
fi

# ---- host settings -------------------------------------------------------

# Pods reach beyond the host through the CNI bridge: forwarding must be on.
# (br_netfilter is not needed.)
if [[ $(sysctl -n net.ipv4.ip_forward) != 1 ]]; then
	quietly sysctl -w net.ipv4.ip_forward=1
	did+=("enabled net.ipv4.ip_forward")
fi
if [[ -d /etc/sysctl.d && ! -f $sysctl_conf ]]; then
	echo "net.ipv4.ip_forward = 1" >"$sysctl_conf"
	did+=("wrote $sysctl_conf")
fi

# With systemd, the packaged containerd is the one minipod uses; without it
# (containers, CI runners) `minipod daemon` starts its own.
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
	if ! systemctl is-active --quiet containerd; then
		quietly systemctl enable --now containerd
		did+=("started containerd.service")
	fi
fi

# ---- build ---------------------------------------------------------------

if ((build)); then
	# With the commit it was built from (see build-minipod.sh: the checkout
	# may belong to another user, a synced folder).
	quietly env GO="$go_bin" bash "$repo_root/scripts/build-minipod.sh" -o "$minipod_bin"
	did+=("built $minipod_bin from $repo_root")
	# The Documentation= of scripts/minipod.service.
	install -D -m 0644 "$repo_root/README.md" "$doc_dir/README.md"
	did+=("installed $doc_dir/README.md")
fi

if ((${#did[@]} == 0)); then
	did+=("nothing to do")
fi
printf 'minipod install: %s\n' "${did[@]}"
