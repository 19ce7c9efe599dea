#!/usr/bin/env bash
# Builds the demo image docker.io/library/busybox:1.36 (and :latest) offline
# from Debian's busybox-static, as an OCI archive that `ctr images import`
# and minipod's image import read.
#
#   scripts/build-busybox-image.sh [-o FILE] [--format oci|docker]
#
# Default output: _output/images/busybox.tar (or $MINIPOD_BUSYBOX_IMAGE).
# Needs: /bin/busybox from busybox-static (or $BUSYBOX) and a Go toolchain.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
output=${MINIPOD_BUSYBOX_IMAGE:-$repo_root/_output/images/busybox.tar}
format=oci
busybox=${BUSYBOX:-/bin/busybox}
go_bin=${GO:-go}

usage() {
	sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

while [[ $# -gt 0 ]]; do
	case $1 in
	-o | --output)
		output=$2
		shift 2
		;;
	--format)
		format=$2
		shift 2
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "build-busybox-image: unknown argument $1" >&2
		usage >&2
		exit 2
		;;
	esac
done

if [[ ! -x $busybox ]]; then
	echo "build-busybox-image: $busybox not found; install busybox-static (apt-get install busybox-static)" >&2
	exit 1
fi
if ! applet_list=$("$busybox" --list 2>/dev/null) || [[ -z $applet_list ]]; then
	echo "build-busybox-image: $busybox --list failed; is it busybox-static?" >&2
	exit 1
fi
if ! command -v "$go_bin" >/dev/null 2>&1; then
	echo "build-busybox-image: no Go toolchain ($go_bin); run scripts/install.sh or put go on PATH" >&2
	exit 1
fi

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$busybox")}

work=$(mktemp -d "${TMPDIR:-/tmp}/minipod-busybox.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,var/www,dev,proc,sys}
install -m 0755 "$busybox" "$rootfs/bin/busybox"

# One symlink per applet, in /bin so every PATH finds it; busybox is a
# static binary, so nothing else is needed to run it.
while read -r applet; do
	[[ -n $applet && $applet != busybox ]] || continue
	ln -sf busybox "$rootfs/bin/$applet"
done <<<"$applet_list"

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
: >"$rootfs/etc/hosts"
: >"$rootfs/etc/resolv.conf"
mkdir -p "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"

mkdir -p "$(dirname "$output")"
(cd "$repo_root" && "$go_bin" run ./scripts/mkimage \
	--rootfs "$rootfs" \
	--tag docker.io/library/busybox:1.36 \
	--tag docker.io/library/busybox:latest \
	--cmd sh \
	--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--format "$format" \
	-o "$output")

applets=$(grep -c . <<<"$applet_list")
echo "built docker.io/library/busybox:1.36 (+ :latest) from $busybox ($applets applets) -> $output ($format)"
