#!/usr/bin/env bash
# Builds the images of the pattern examples offline: each demo program of
# examples/apps/ as a static Go binary, on a busybox root filesystem (from
# Debian's busybox-static, so that `minipod exec ... -- sh` is useful), one
# OCI archive per image, each holding that one image (so that
# `skopeo copy oci-archive:DIR/NAME.tar docker://...` needs no choosing):
#
#   webapp.tar         docker.io/minipod/webapp:1.0
#   simple-webapp.tar  simple-webapp:1.0 (the webapp program)
#   log-shipper.tar    docker.io/minipod/log-shipper:1.0
#   log-agent.tar      log-agent:1.0 (the log-shipper program)
#   log-adapter.tar    docker.io/minipod/log-adapter:1.0
#   log-collector.tar  docker.io/minipod/log-collector:1.0
#   ambassador.tar     docker.io/minipod/ambassador:1.0
#   kvdb.tar           docker.io/minipod/kvdb:1.0
#   db-client.tar      docker.io/minipod/db-client:1.0
#
#   scripts/build-demo-images.sh [-o DIR] [--load]
#
# Default DIR: _output/images/. --load also runs `minipod image load` on each
# archive (the daemon must be running; $MINIPOD names the binary).
# Needs: /bin/busybox from busybox-static (or $BUSYBOX) and a Go toolchain.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=$repo_root/_output/images
load=false
busybox=${BUSYBOX:-/bin/busybox}
go_bin=${GO:-go}
minipod=${MINIPOD:-minipod}

# archive name, the program of examples/apps/ in it, the image's reference.
images=(
	"webapp webapp docker.io/minipod/webapp:1.0"
	"simple-webapp webapp docker.io/library/simple-webapp:1.0"
	"log-shipper log-shipper docker.io/minipod/log-shipper:1.0"
	"log-agent log-shipper docker.io/library/log-agent:1.0"
	"log-adapter log-adapter docker.io/minipod/log-adapter:1.0"
	"log-collector log-collector docker.io/minipod/log-collector:1.0"
	"ambassador ambassador docker.io/minipod/ambassador:1.0"
	"kvdb kvdb docker.io/minipod/kvdb:1.0"
	"db-client db-client docker.io/minipod/db-client:1.0"
)

usage() {
	sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

while [[ $# -gt 0 ]]; do
	case $1 in
	-o | --output)
		outdir=$2
		shift 2
		;;
	--load)
		load=true
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "build-demo-images: unknown argument $1" >&2
		usage >&2
		exit 2
		;;
	esac
done

if [[ ! -x $busybox ]]; then
	echo "build-demo-images: $busybox not found; install busybox-static (apt-get install busybox-static)" >&2
	exit 1
fi
if ! applet_list=$("$busybox" --list 2>/dev/null) || [[ -z $applet_list ]]; then
	echo "build-demo-images: $busybox --list failed; is it busybox-static?" >&2
	exit 1
fi
if ! command -v "$go_bin" >/dev/null 2>&1; then
	echo "build-demo-images: no Go toolchain ($go_bin); run scripts/install.sh or put go on PATH" >&2
	exit 1
fi
if $load && ! command -v "$minipod" >/dev/null 2>&1; then
	echo "build-demo-images: --load needs the minipod binary ($minipod); run scripts/install.sh" >&2
	exit 1
fi

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$busybox")}

work=$(mktemp -d "${TMPDIR:-/tmp}/minipod-demo-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The programs, static, and the image builder, once.
(cd "$repo_root" &&
	CGO_ENABLED=0 "$go_bin" build -trimpath -ldflags "-s -w" -o "$work/bin/" ./examples/apps/... &&
	"$go_bin" build -o "$work/mkimage" ./scripts/mkimage)

# The busybox root filesystem every image shares.
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,root,home,dev,proc,sys,tmp}
install -m 0755 "$busybox" "$rootfs/bin/busybox"
while read -r applet; do
	[[ -n $applet && $applet != busybox ]] || continue
	ln -sf busybox "$rootfs/bin/$applet"
done <<<"$applet_list"
cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
# Pods find each other through /etc/hosts, which minipod (like the kubelet)
# mounts into every container; look there first.
echo "hosts: files dns" >"$rootfs/etc/nsswitch.conf"
: >"$rootfs/etc/hosts"
: >"$rootfs/etc/resolv.conf"
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"

mkdir -p "$outdir"
for spec in "${images[@]}"; do
	read -r name prog ref <<<"$spec"
	"$work/mkimage" --rootfs "$rootfs" --file "$work/bin/$prog:/usr/local/bin/$prog:0755" \
		--entrypoint "[\"/usr/local/bin/$prog\"]" --stop-signal SIGTERM \
		--label "org.opencontainers.image.source=examples/apps/$prog" \
		--tag "$ref" -o "$outdir/$name.tar"
	echo "built $ref -> $outdir/$name.tar"
done

if $load; then
	for spec in "${images[@]}"; do
		read -r name _ <<<"$spec"
		"$minipod" image load "$outdir/$name.tar"
	done
fi
