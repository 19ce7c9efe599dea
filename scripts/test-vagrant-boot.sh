#!/usr/bin/env bash
# The VM boot tier: boots the Vagrantfile's VM for real with vagrant-libvirt
# under KVM, offline, provisions it with the Vagrantfile's own provisioning
# and checks inside it, over `vagrant ssh`, that
#
#   - the minipod daemon runs as the systemd unit minipod.service;
#   - the sidecar demo (scripts/demo.sh) works end to end: the collector
#     receives the access-log lines of the web app's requests;
#   - `minipod get pods` and `kubectl get pods` (after `sudo minipod
#     kubeconfig --merge`, as the README says) list the demo's pods;
#   - the VM has no route beyond its isolated network.
#
# Then it destroys the VM and removes the box, the disks, the libvirt
# network and every process it started, and prints what each phase cost
# ("vagrant-boot: cost: ...", with the CPU time QEMU used).
#
#   scripts/test-vagrant-boot.sh          (as root; the host needs /dev/kvm)
#
# The box comes from scripts/build-vagrant-box.sh (cached in
# /var/cache/minipod-vagrant-box; building it took 9-26 minutes on a loaded
# 2-core host). Before the VM boots, that script also compiles this checkout's builds on the host,
# in the box's file system (its Go, module cache and paths), and the test
# syncs the resulting Go build cache into the VM's: Go's cache is keyed by
# the content of everything that goes into a build, so the provisioning's
# builds in the VM (install.sh, build-demo-images.sh, and demo.sh's again)
# find every package compiled and only link, instead of compiling minipod's
# own packages on an emulated processor. The test runs its own libvirtd in private mount and network
# namespaces: libvirt's configuration, state, sockets, logs and storage pool
# live in one temporary directory (/etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are bind mounts of
# it, seen by that libvirtd alone), the VM's network is an isolated libvirt
# network (no forwarding) inside a network namespace that holds nothing else,
# and vagrant runs in that namespace too. A libvirtd already running on the
# host is neither used nor disturbed.
#
# The VM runs under KVM where /dev/kvm is the kernel's own KVM (kvm_intel or
# kvm_amd). A /dev/kvm of another kind, such as the PVM module of hosts that
# are themselves VMs (kvm_pvm), runs only guest kernels built for it and
# leaves Debian's kernel stuck in its decompressor; there QEMU emulates the
# processor (TCG), several times slower.
#
# Environment: MINIPOD_VAGRANT_DRIVER=kvm|qemu chooses the accelerator;
# MINIPOD_VAGRANT_KEEP=1 leaves the VM and libvirtd running and
# prints how to reach them (for debugging; clean up by running the printed
# command).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
box_name=minipod-boot-test
network=minipod-boot-test
subnet=192.168.123.0/24
pool=minipod-boot-test
start=$SECONDS

log() {
	echo "vagrant-boot: $* ($((SECONDS - start))s)" >&2
}
die() {
	echo "vagrant-boot: FAIL: $*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root"
[[ -c /dev/kvm && -w /dev/kvm ]] || die "/dev/kvm is missing or not writable: the VM needs KVM"
missing=()
for cmd in vagrant libvirtd virsh qemu-system-x86_64 qemu-img dnsmasq unshare nsenter rsync debootstrap mkfs.ext4; do
	command -v "$cmd" >/dev/null || missing+=("$cmd")
done
((${#missing[@]} == 0)) || die "missing ${missing[*]}; run scripts/install.sh --test"
if ! vagrant plugin list 2>/dev/null | grep -q '^vagrant-libvirt '; then
	die "the vagrant-libvirt plugin is missing; run scripts/install.sh --test (Debian package vagrant-libvirt)"
fi

driver=${MINIPOD_VAGRANT_DRIVER:-}
if [[ -z $driver ]]; then
	if [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]]; then
		driver=kvm
	else
		driver=qemu
	fi
fi
case $driver in
kvm | qemu) ;;
*) die "MINIPOD_VAGRANT_DRIVER=$driver: want kvm or qemu" ;;
esac

phase_start=$SECONDS
log "building (or finding) the box"
box=$(bash "$repo_root/scripts/build-vagrant-box.sh")
log "compiling this checkout in the box's file system (Go build cache for the VM)"
go_cache=$(bash "$repo_root/scripts/build-vagrant-box.sh" --go-cache)
box_cost=$((SECONDS - phase_start))

state=$(mktemp -d /var/tmp/minipod-vagrant-boot.XXXXXX)
uri="qemu:///system?socket=$state/run/libvirt-sock"
libvirtd_pid=""
# The vagrant command running now, stopped first when the test is stopped.
child=""
# What each phase cost, in seconds, and QEMU's CPU time.
up_cost="" checks_cost="" down_cost="" qemu_cpu=""
# Directories of the libvirt packages' layout that this test creates as
# mount points (and removes again).
made_dirs=()
export LIBVIRT_DEFAULT_URI=$uri
export VAGRANT_HOME=$state/vagrant.d
export VAGRANT_DOTFILE_PATH=$state/dot
export VAGRANT_CHECKPOINT_DISABLE=1
export VAGRANT_DEFAULT_PROVIDER=libvirt
export VAGRANT_CWD=$repo_root
export MINIPOD_VAGRANT_BOX=$box_name
export MINIPOD_VAGRANT_SYNC=rsync
unset MINIPOD_INSTALL_TEST

# in_netns CMD...: run CMD in the test's network namespace (libvirtd's).
in_netns() {
	nsenter --net="/proc/$libvirtd_pid/ns/net" -- "$@"
}

# run LOG CMD...: run CMD in the test's network namespace with its output in
# LOG, in the background so that a signal to the test stops it at once.
run() {
	local out=$1 rc=0
	shift
	# nsenter itself, not a subshell, so that $! is the command's pid.
	nsenter --net="/proc/$libvirtd_pid/ns/net" -- "$@" >"$out" 2>&1 &
	child=$!
	wait "$child" || rc=$?
	child=""
	return "$rc"
}

# show LOG: print a vagrant log without its progress meter.
show() {
	sed 's/\x1b\[K/\n/g' "$1" | grep -v '^Progress: ' >&2 || true
}

# The processes in the test's network namespace: libvirtd, dnsmasq, qemu.
netns_pids() {
	local ns p
	[[ -n $libvirtd_pid ]] || return 0
	ns=$(readlink "/proc/$libvirtd_pid/ns/net" 2>/dev/null) || return 0
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/ns/net" 2>/dev/null) == "$ns" ]] && echo "${p#/proc/}"
	done
}

# qemu_cpu_seconds: the CPU time (user and system) of the VM's QEMU so far.
qemu_cpu_seconds() {
	local p stat f
	for p in $(netns_pids); do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == qemu-system-* ]] || continue
		stat=$(cat "/proc/$p/stat") || continue
		stat=${stat##*) }
		# Fields 14 and 15 of stat (utime, stime), 12 and 13 after pid and comm.
		read -r -a f <<<"$stat"
		echo $(((f[11] + f[12]) / $(getconf CLK_TCK)))
		return 0
	done
}

cleanup() {
	local rc=$? pids p d deadline teardown_start cost
	trap - EXIT INT TERM
	if [[ ${MINIPOD_VAGRANT_KEEP:-0} == 1 && -n $libvirtd_pid ]]; then
		echo "vagrant-boot: kept the VM; reach it with:" >&2
		echo "  nsenter --net=/proc/$libvirtd_pid/ns/net env VAGRANT_HOME=$VAGRANT_HOME VAGRANT_DOTFILE_PATH=$VAGRANT_DOTFILE_PATH VAGRANT_CWD=$repo_root MINIPOD_VAGRANT_BOX=$box_name LIBVIRT_DEFAULT_URI='$uri' vagrant ssh" >&2
		echo "  clean up: kill $libvirtd_pid (and the processes of its network namespace); rm -rf $state; rmdir ${made_dirs[*]}" >&2
		exit "$rc"
	fi
	log "cleaning up"
	teardown_start=$SECONDS
	if [[ -n $child ]]; then
		kill "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	if [[ -n $libvirtd_pid ]] && kill -0 "$libvirtd_pid" 2>/dev/null; then
		[[ -n $qemu_cpu ]] || qemu_cpu=$(qemu_cpu_seconds)
		if [[ -d $VAGRANT_DOTFILE_PATH/machines ]]; then
			in_netns vagrant destroy -f >"$state/destroy.log" 2>&1 || cat "$state/destroy.log" >&2
		fi
		in_netns vagrant box remove --force --all "$box_name" >/dev/null 2>&1 || true
		virsh net-destroy "$network" >/dev/null 2>&1 || true
		virsh net-undefine "$network" >/dev/null 2>&1 || true
		virsh pool-destroy "$pool" >/dev/null 2>&1 || true
		# libvirtd, then whatever else runs in its network namespace (a qemu
		# or dnsmasq it left), by pid.
		mapfile -t pids < <(netns_pids)
		kill "$libvirtd_pid" 2>/dev/null || true
		for p in "${pids[@]}"; do
			[[ $p == "$libvirtd_pid" ]] || kill "$p" 2>/dev/null || true
		done
		deadline=$((SECONDS + 30))
		while [[ -n $(netns_pids) ]] && ((SECONDS < deadline)); do
			sleep 0.2
		done
		for p in $(netns_pids); do
			kill -KILL "$p" 2>/dev/null || true
		done
	fi
	teardown_cost=$((SECONDS - teardown_start + ${down_cost:-0}))
	rm -rf "$state"
	for d in "${made_dirs[@]}"; do
		rmdir "$d" 2>/dev/null || echo "vagrant-boot: could not remove $d" >&2
	done
	cost="vagrant boot: $([[ $driver == kvm ]] && echo KVM || echo "QEMU emulation (TCG)"), box and Go cache ${box_cost:-?}s, vagrant up with provisioning ${up_cost:-?}s, checks ${checks_cost:-?}s, teardown ${teardown_cost}s, total $((SECONDS - start))s; QEMU used ${qemu_cpu:-?}s of CPU; host load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "vagrant-boot: cost: ${cost#vagrant boot: }" >&2
	# scripts/test.sh prints these figures in its summary.
	[[ -z ${MINIPOD_FIGURES:-} ]] || echo "$cost" >>"$MINIPOD_FIGURES"
	if ((rc == 0)); then
		log "PASSED"
	else
		log "FAILED (exit $rc)"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- a private libvirtd ---------------------------------------------------

log "starting a private libvirtd (state in $state)"
mkdir -p "$state"/{etc,run,lib,log,cache,pool,vagrant.d,dot}
for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
	if [[ ! -d $d ]]; then
		mkdir -p "$d"
		made_dirs+=("$d")
	fi
done
# QEMU runs as root, without cgroups, namespaces or a security driver (the
# host has no systemd, AppArmor or SELinux to cooperate with), and writes its
# own log (no virtlogd).
cat >"$state/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
EOF
cat >"$state/etc/libvirtd.conf" <<'EOF'
auth_unix_rw = "none"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
EOF
# libvirt's QEMU driver looks up its build-time user libvirt-qemu (made by
# Debian's libvirt-daemon-system, which this host need not have) even when
# qemu.conf names root: libvirtd alone sees a passwd and group with it.
cp /etc/passwd "$state/passwd"
cp /etc/group "$state/group"
getent passwd libvirt-qemu >/dev/null || echo 'libvirt-qemu:x:64055:64055:libvirt QEMU:/var/lib/libvirt:/usr/sbin/nologin' >>"$state/passwd"
getent group libvirt-qemu >/dev/null || echo 'libvirt-qemu:x:64055:' >>"$state/group"
cat >"$state/libvirtd.sh" <<EOF
set -e
mount --bind '$state/etc' /etc/libvirt
mount --bind '$state/run' /run/libvirt
mount --bind '$state/lib' /var/lib/libvirt
mount --bind '$state/log' /var/log/libvirt
mount --bind '$state/cache' /var/cache/libvirt
mount --bind '$state/passwd' /etc/passwd
mount --bind '$state/group' /etc/group
ip link set lo up
exec libvirtd
EOF
unshare --mount --net --propagation private bash "$state/libvirtd.sh" >"$state/libvirtd.log" 2>&1 &
libvirtd_pid=$!
deadline=$((SECONDS + 60))
until virsh version >/dev/null 2>&1; do
	if ! kill -0 "$libvirtd_pid" 2>/dev/null; then
		grep -v 'udev\|dmidecode\|/dev/mem\|^$' "$state/libvirtd.log" >&2 || true
		die "libvirtd exited"
	fi
	((SECONDS < deadline)) || die "libvirtd did not answer on $state/run/libvirt-sock within 60s"
	sleep 0.2
done
virsh pool-create-as "$pool" dir --target "$state/pool" >/dev/null

# Vagrant reads this file before the project's Vagrantfile, which sets none
# of these: the test's own storage pool and isolated management network, the
# Go build cache compiled on the host synced into root's in the VM before
# the provisioning runs (adding entries, replacing and deleting none), and
# the box's key kept (replacing it costs a reconnection).
# (A serial console in a file cannot be set here: vagrant-libvirt 0.11
# fails to merge it with a Vagrantfile that sets none.)
cat >"$VAGRANT_HOME/Vagrantfile" <<EOF
Vagrant.configure("2") do |config|
  config.vm.box_check_update = false
  # A loaded 2-core host boots the VM slowly.
  config.vm.boot_timeout = 900
  config.ssh.insert_key = false
  config.vm.synced_folder "$go_cache", "/root/.cache/go-build", type: "rsync",
    owner: "root", group: "root", rsync__args: ["--archive", "--ignore-existing"]
  config.vm.provider :libvirt do |lv|
    lv.uri = "$uri"
    lv.driver = "$driver"
    lv.storage_pool_name = "$pool"
    lv.management_network_name = "$network"
    lv.management_network_address = "$subnet"
    lv.management_network_mode = "none"
    lv.graphics_type = "none"
  end
end
EOF

# ---- up -------------------------------------------------------------------

log "vagrant box add $box_name"
if ! run "$state/box-add.log" vagrant box add --name "$box_name" "$box"; then
	show "$state/box-add.log"
	die "vagrant box add failed"
fi

log "vagrant up --provider libvirt, driver $driver (boot and the Vagrantfile's provisioning)"
up_start=$SECONDS
if ! run "$state/up.log" vagrant up --provider libvirt; then
	show "$state/up.log"
	echo "--- QEMU's log" >&2
	tail -n 30 "$state"/log/qemu/*.log >&2 2>/dev/null || true
	die "vagrant up failed"
fi
up_cost=$((SECONDS - up_start))
log "vagrant up took ${up_cost}s"
checks_start=$SECONDS

# vm_user CMD: run a shell command in the VM as the user vagrant, with the
# ssh command and options `vagrant ssh` uses (`vagrant ssh-config`), without
# starting Vagrant for each (half a minute on a loaded host).
vm_user() {
	in_netns ssh -F "$state/ssh-config" -o LogLevel=ERROR default "$1"
}

# vm CMD: run a shell command in the VM as root.
vm() {
	vm_user "sudo bash -c $(printf '%q' "$1")"
}

# ---- checks ---------------------------------------------------------------

in_netns vagrant ssh-config >"$state/ssh-config" 2>"$state/ssh-config.log" || {
	cat "$state/ssh-config.log" >&2
	die "vagrant ssh-config failed"
}

log "check: the daemon runs as the systemd unit minipod.service (over vagrant ssh)"
active=$(in_netns vagrant ssh -c 'systemctl is-active minipod.service' -- -o LogLevel=ERROR 2>&1) || true
[[ $active == active* ]] || die "minipod.service is not active: $active"
# shellcheck disable=SC2016 # expanded in the VM
exe=$(vm 'readlink /proc/$(systemctl show -p MainPID --value minipod.service)/exe' 2>&1) || true
[[ $exe == /usr/local/bin/minipod* ]] || die "minipod.service's main process is not /usr/local/bin/minipod: $exe"

log "check: the VM reaches no network beyond its isolated one"
routes=$(vm 'ip -4 route show default' 2>&1) || die "ip route failed in the VM: $routes"
[[ -z $routes ]] || die "the VM has a default route: $routes"

log "check: the sidecar demo (scripts/demo.sh) inside the VM"
if ! demo=$(vm 'cd /home/vagrant/minipod && bash scripts/demo.sh' 2>&1); then
	echo "$demo" >&2
	echo "--- in the VM:" >&2
	vm 'minipod get pods -o wide; ip -br addr; minipod logs web -c app; minipod logs web -c log-shipper; minipod logs log-collector' >&2 || true
	die "scripts/demo.sh failed in the VM"
fi
# What the collector received, asked directly: one line per request.
# shellcheck disable=SC2016 # expanded in the VM
lines=$(vm 'ip=$(minipod get pod log-collector -o json | sed -n "s/.*\"podIP\": *\"\([^\"]*\)\".*/\1/p" | head -n 1) && curl -fsS "http://$ip:9001/lines"' 2>&1) ||
	die "could not read the collector's lines: $lines"
for path in /hello /about /cart; do
	grep -q " $path " <<<"$lines" || {
		echo "$demo" >&2
		die "the collector did not receive the request for $path; it has: $lines"
	}
done
printf '    collector: %s\n' "${lines//$'\n'/$'\n    collector: '}" >&2

log "check: minipod get pods lists the pods"
pods=$(vm 'minipod get pods' 2>&1) || die "minipod get pods failed: $pods"
printf '    %s\n' "${pods//$'\n'/$'\n    '}" >&2
for pod in web log-collector; do
	grep -Eq "^${pod}[[:space:]].*Running" <<<"$pods" || die "minipod get pods does not list $pod as Running"
done

log "check: kubectl get pods lists the pods (after sudo minipod kubeconfig --merge)"
out=$(vm 'minipod kubeconfig --merge' 2>&1) || die "minipod kubeconfig --merge failed: $out"
pods=$(vm_user 'kubectl get pods' 2>&1) || die "kubectl get pods failed: $pods"
printf '    %s\n' "${pods//$'\n'/$'\n    '}" >&2
grep -Eq '^NAME[[:space:]]+READY[[:space:]]+STATUS' <<<"$pods" || die "kubectl get pods printed no table"
for pod in web log-collector; do
	grep -Eq "^${pod}[[:space:]].*Running" <<<"$pods" || die "kubectl get pods does not list $pod as Running"
done
checks_cost=$((SECONDS - checks_start))
qemu_cpu=$(qemu_cpu_seconds)

# ---- down -----------------------------------------------------------------

log "vagrant destroy -f"
down_start=$SECONDS
if ! run "$state/destroy.log" vagrant destroy -f; then
	show "$state/destroy.log"
	die "vagrant destroy failed"
fi
down_cost=$((SECONDS - down_start))
left=$(virsh list --all --name | grep -v '^$' || true)
[[ -z $left ]] || die "domains left after vagrant destroy: $left"
