#!/usr/bin/env bash
# Builds a libvirt Vagrant box of Debian 12 (amd64) from the Debian archive
# this host uses, with everything the Vagrantfile's provisioning needs, so
# that a VM made from it provisions with no network at all:
#
#   - systemd, openssh-server, sudo, rsync; systemd-networkd runs DHCP on
#     eth0 (the libvirt management network);
#   - the user vagrant (password-less sudo) with Vagrant's well-known
#     insecure public key, which `vagrant up` replaces on first boot;
#   - the Debian packages scripts/install.sh installs (containerd, runc,
#     the CNI plugins, iptables, iproute2, busybox-static, curl), so that
#     it skips apt;
#   - this host's Go toolchain in /usr/local/go (new enough for go.mod) and,
#     in root's module cache, every module go.mod needs, with GOPROXY=off
#     and GOTOOLCHAIN=local in root's go env, and root's Go build cache
#     filled by the builds the provisioning runs;
#   - kubectl (the newest, built by scripts/kube.sh) in /usr/local/bin.
#
#   scripts/build-vagrant-box.sh [-o FILE]     prints the path of the box
#   scripts/build-vagrant-box.sh --go-cache    compiles this checkout's builds
#       in the box's file system on the host and prints the path of its Go
#       build cache: synced into the VM's, it leaves the provisioning only
#       cache hits and links (the VM boot test does this)
#
# The disk is one ext4 file system (no partition table), made with
# `mkfs.ext4 -d` from the debootstrap tree, so no loop device or mount is
# needed; the box boots its kernel directly (vagrant-libvirt's kernel,
# initrd and cmd_line, set by the box's own Vagrantfile) instead of through a
# boot loader. It is a box for tests on a libvirt host, not for users.
#
# The box is cached in $MINIPOD_VAGRANT_BOX_CACHE (default
# /var/cache/minipod-vagrant-box) under a key made of this script's commands,
# go.mod, go.sum, the Go release, the archive's address and kubectl; a
# rerun with the same key only prints the cached box (or copies it to FILE).
# The box's file system is kept beside it for --go-cache. Older boxes there
# are removed. A build took 9-26 minutes on a loaded 2-core host (debootstrap
# 4-9, compiling for the build cache 4-15; 6 minutes of CPU time); the box is
# about 2 GB, the kept file system as much again.
#
# Environment: MINIPOD_DEBIAN_MIRROR (default: the first Debian archive of
# this host's apt sources), GO (default: what scripts/install.sh --print-go
# finds). Needs root, debootstrap, e2fsprogs, qemu-utils.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_dir=${MINIPOD_VAGRANT_BOX_CACHE:-/var/cache/minipod-vagrant-box}
output=""
go_cache=0
suite=bookworm
disk_size=8G

usage() {
	sed -n '2,42s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

while [[ $# -gt 0 ]]; do
	case $1 in
	-o | --output)
		output=$2
		shift 2
		;;
	--go-cache)
		go_cache=1
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "build-vagrant-box: unknown argument $1" >&2
		usage >&2
		exit 2
		;;
	esac
done

die() {
	echo "build-vagrant-box: $*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap and chroot need it)"
[[ $(uname -m) == x86_64 ]] || die "builds amd64 boxes only, on an x86_64 host"
for cmd in debootstrap mkfs.ext4 qemu-img chroot tar sha256sum; do
	command -v "$cmd" >/dev/null || die "$cmd not found; run scripts/install.sh --test"
done

# The Debian archive of this host's apt sources: the first URI that is not a
# security or third-party archive.
host_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"
	done
}
mirror=${MINIPOD_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
	mirror=$(host_mirror | grep -E '/debian/?$' | head -n 1 || true)
	mirror=${mirror:-http://deb.debian.org/debian}
fi

go_bin=${GO:-$(bash "$repo_root/scripts/install.sh" --print-go)} ||
	die "no Go new enough for go.mod; run scripts/install.sh"
goroot=$(GOTOOLCHAIN=local "$go_bin" env GOROOT)
go_release=$(GOTOOLCHAIN=local "$go_bin" env GOVERSION)

pub_key=""
for k in /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub \
	/opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub; do
	[[ -f $k ]] && pub_key=$k && break
done
[[ -n $pub_key ]] || die "Vagrant's insecure public key (keys/vagrant.pub) not found; install vagrant"

kubectl=$(PATH=$(dirname "$go_bin"):$PATH bash "$repo_root/scripts/kube.sh" build "" kubectl >&2 &&
	PATH=$(dirname "$go_bin"):$PATH bash "$repo_root/scripts/kube.sh" bin kubectl) ||
	die "could not build kubectl (scripts/kube.sh build '' kubectl)"

# The key: this script's commands (not its comments), the modules, the Go
# release, the archive and kubectl.
key=$(cat <(grep -v '^[[:space:]]*#' "${BASH_SOURCE[0]}") "$repo_root/go.mod" "$repo_root/go.sum" \
	<(echo "$go_release $mirror $suite") <(sha256sum <"$kubectl") |
	sha256sum | cut -c1-16)
box=$cache_dir/minipod-debian12-$key.box
rootfs=$cache_dir/minipod-debian12-$key.rootfs

# One build or warming at a time.
mkdir -p "$cache_dir"
exec 9>"$cache_dir/.lock"
flock 9

# unmount_under DIR: unmount whatever is mounted under DIR, deepest first.
unmount_under() {
	local m
	while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done < <(awk -v r="$1/" 'index($2 "/", r) == 1 { print $2 }' /proc/self/mounts | sort -r)
}

# warm ROOT: compile what the provisioning compiles (minipod, the demo
# programs, mkimage) in the tree ROOT, with its Go, module cache, source path
# and flags, so that root's Go build cache there holds every result.
warm() {
	local root=$1
	mkdir -p "$root/home/vagrant/minipod" "$root/dev" "$root/proc"
	(cd "$repo_root" && tar -c --exclude=./.git --exclude=./_output --exclude=./bin --exclude=./.vagrant .) |
		tar -x -C "$root/home/vagrant/minipod"
	mount --bind /dev "$root/dev"
	mount -t proc proc "$root/proc"
	quietly chroot "$root" env -i HOME=/root PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin GOTOOLCHAIN=local \
		bash -c 'set -e
			cd /home/vagrant/minipod
			go build -buildvcs=false -o /tmp/warm/minipod ./cmd/minipod
			CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /tmp/warm/bin/ ./examples/apps/...
			go build -o /tmp/warm/mkimage ./scripts/mkimage'
	umount "$root/proc"
	umount "$root/dev"
	rm -rf "$root/home/vagrant/minipod" "$root/tmp/warm"
}

# report: print the box's path (after copying it to FILE with -o), or with
# --go-cache the path of the Go build cache.
report() {
	if ((go_cache)); then
		echo "$rootfs/root/.cache/go-build"
	elif [[ -n $output ]]; then
		mkdir -p "$(dirname "$output")"
		cp "$box" "$output"
		echo "$output"
	else
		echo "$box"
	fi
}

start=$SECONDS
log=$(mktemp "$cache_dir/log.XXXXXX")
step() {
	echo "build-vagrant-box: $* ($((SECONDS - start))s)" >&2
}
quietly() {
	if ! "$@" >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "failed: $*"
	fi
}

if [[ -f $box && -d $rootfs ]]; then
	if ((go_cache)); then
		trap 'unmount_under "$rootfs"; rm -rf "$rootfs/home/vagrant/minipod" "$log"' EXIT
		step "compiling this checkout's builds in $rootfs"
		warm "$rootfs"
		step "compiled"
	else
		rm -f "$log"
	fi
	report
	exit 0
fi

work=$(mktemp -d "$cache_dir/build.XXXXXX")
root=$work/rootfs
# Whatever happens, nothing stays mounted in the tree and no build is left.
cleanup() {
	[[ -d $root ]] && unmount_under "$root"
	rm -rf "$work" "$log"
}
trap cleanup EXIT

packages=(
	systemd-sysv udev dbus kmod linux-image-amd64 initramfs-tools
	openssh-server sudo rsync less procps
	# scripts/install.sh's runtime packages.
	containerd runc containernetworking-plugins iptables iproute2 busybox-static ca-certificates curl
)
step "debootstrap $suite from $mirror"
quietly debootstrap --variant=minbase --arch=amd64 --components=main \
	--include="$(
		IFS=,
		echo "${packages[*]}"
	)" "$suite" "$root" "$mirror"

step "configuring the system"
echo minipod >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tminipod\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' >"$root/etc/fstab"
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
EOF
# Every VM generates its own machine id (and so its own DHCP client id).
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

# The VM's own NIC only (eth0: net.ifnames=0): a match on every Ethernet
# link would also take the pods' veths, which are Ethernet too, and detach
# them from the CNI bridge.
cat >"$root/etc/systemd/network/10-eth.network" <<'EOF'
[Match]
Name=eth*

[Network]
DHCP=ipv4
EOF
ln -sf /lib/systemd/system/systemd-networkd.service \
	"$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# The VM has no DNS server to ask; name lookups of the host name stay local.
: >"$root/etc/resolv.conf"
# No archive to reach: apt's daily timers would only spend the VM's time.
ln -sf /dev/null "$root/etc/systemd/system/apt-daily.timer"
ln -sf /dev/null "$root/etc/systemd/system/apt-daily-upgrade.timer"

chroot "$root" useradd --create-home --shell /bin/bash --user-group vagrant
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/vagrant"
chmod 0440 "$root/etc/sudoers.d/vagrant"
install -d -m 0700 "$root/home/vagrant/.ssh"
install -m 0600 "$pub_key" "$root/home/vagrant/.ssh/authorized_keys"
chroot "$root" chown -R vagrant:vagrant /home/vagrant/.ssh
# sshd answers before the network has a name server to ask.
echo 'UseDNS no' >"$root/etc/ssh/sshd_config.d/vagrant.conf"

step "copying Go $go_release from $goroot"
mkdir -p "$root/usr/local/go"
cp -a "$goroot/." "$root/usr/local/go/"
ln -sf /usr/local/go/bin/go "$root/usr/local/bin/go"
ln -sf /usr/local/go/bin/gofmt "$root/usr/local/bin/gofmt"
install -m 0755 "$kubectl" "$root/usr/local/bin/kubectl"

step "downloading the modules of go.mod into root's module cache"
modcache=$root/root/go/pkg/mod
mkdir -p "$modcache"
# Modules already in this host's cache come from there; the rest from the
# Go module proxy this host is configured with.
host_cache=$(GOTOOLCHAIN=local "$go_bin" env GOMODCACHE)
proxy=$(GOTOOLCHAIN=local "$go_bin" env GOPROXY)
if [[ -d $host_cache/cache/download ]]; then
	proxy="file://$host_cache/cache/download,$proxy"
fi
(cd "$repo_root" && quietly env GOMODCACHE="$modcache" GOPROXY="$proxy" GOFLAGS=-modcacherw \
	GOTOOLCHAIN=local "$go_bin" mod download)
mkdir -p "$root/root/.config/go"
printf 'GOPROXY=off\nGOTOOLCHAIN=local\n' >"$root/root/.config/go/env"

# The provisioning builds minipod and the demo programs in the VM, where the
# processor may be emulated: compile what those builds compile now, with the
# same Go, module cache, source path and flags, so that in the VM only what
# changed since (minipod's own packages) compiles again.
step "warming root's Go build cache with the provisioning's builds"
warm "$root"

step "cleaning up"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/log/*.log
kernel=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)
initrd=$(find "$root/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n 1)
[[ -n $kernel && -n $initrd ]] || die "debootstrap installed no kernel or initrd in $root/boot"

step "making the disk image"
boxdir=$work/box
mkdir -p "$boxdir"
cp "$kernel" "$boxdir/vmlinuz"
cp "$initrd" "$boxdir/initrd.img"
quietly mkfs.ext4 -q -L minipod-root -d "$root" "$work/disk.raw" "$disk_size"
quietly qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$boxdir/box.img"
rm -f "$work/disk.raw"
cat >"$boxdir/metadata.json" <<EOF
{"provider": "libvirt", "format": "qcow2", "virtual_size": ${disk_size%G}}
EOF
cat >"$boxdir/Vagrantfile" <<'EOF'
# Debian 12 for minipod's VM boot test (scripts/build-vagrant-box.sh): the
# disk holds one ext4 file system and the kernel boots directly.
box_dir = File.dirname(File.expand_path(__FILE__))
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.kernel = File.join(box_dir, "vmlinuz")
    lv.initrd = File.join(box_dir, "initrd.img")
    lv.cmd_line = "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet"
    lv.disk_bus = "virtio"
  end
end
EOF
(cd "$boxdir" && quietly tar -cf "$work/box.tar" metadata.json Vagrantfile vmlinuz initrd.img box.img)
# Boxes of other keys are outdated.
find "$cache_dir" -maxdepth 1 -name 'minipod-debian12-*.box' ! -name "${box##*/}" -delete
find "$cache_dir" -maxdepth 1 -name 'minipod-debian12-*.rootfs' ! -name "${rootfs##*/}" -exec rm -rf {} +
rm -rf "$rootfs"
mv "$root" "$rootfs"
mv "$work/box.tar" "$box"
step "built $box ($(du -h "$box" | cut -f1))"
report
