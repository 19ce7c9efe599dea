#!/usr/bin/env bash
# The newcomer's first command (as root, on Debian 12 or Ubuntu 22.04+):
# installs what minipod needs, starts its daemon, builds and loads the demo
# image offline, and runs a two-container pod. Running it again is fine.
#
#   sudo scripts/demo.sh [POD.yaml]    default: examples/hello-pod/pod.yaml
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
manifest=${1:-examples/hello-pod/pod.yaml}
socket=${MINIPOD_SOCKET:-/run/minipod/minipod.sock}
export MINIPOD_SOCKET=$socket

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: run me as root: sudo $0" >&2
	exit 1
fi

echo "==> installing containerd, runc, CNI plugins, Go and minipod (scripts/install.sh)"
bash scripts/install.sh

daemon_up() {
	minipod get pods >/dev/null 2>&1
}

if daemon_up; then
	echo "==> minipod daemon already running on $socket"
elif [[ -d /run/systemd/system ]]; then
	echo "==> starting the minipod daemon (systemd unit minipod.service)"
	install -m 0644 scripts/minipod.service /etc/systemd/system/minipod.service
	systemctl daemon-reload
	systemctl enable --now minipod.service
else
	echo "==> starting the minipod daemon (log: /var/log/minipod.log)"
	nohup minipod daemon --socket "$socket" >>/var/log/minipod.log 2>&1 </dev/null &
fi
deadline=$((SECONDS + 60))
until daemon_up; do
	if ((SECONDS >= deadline)); then
		echo "demo: the daemon did not answer within 60s; see /var/log/minipod.log or journalctl -u minipod" >&2
		exit 1
	fi
	sleep 0.2
done

echo "==> building the demo image offline from busybox-static and loading it"
bash scripts/build-busybox-image.sh -o _output/images/busybox.tar >/dev/null
minipod image load _output/images/busybox.tar

echo "==> running $manifest"
minipod delete -f "$manifest" --now >/dev/null 2>&1 || true
minipod run "$manifest"

pod=$(minipod get pods -o name | head -n 1)
pod=${pod#pod/}
cat <<MSG

The pod is running. Things to try:
  minipod get pods -o wide                  # its IP, READY and STATUS columns
  minipod describe pod $pod                 # containers, network namespace, volumes
  minipod logs $pod -c poller -f            # the second container reaching the first over localhost
  minipod exec $pod -c poller -- wget -qO- http://localhost:8080/
  minipod run --dry-run $manifest           # the plan: everything minipod creates, step by step
  minipod delete -f $manifest               # removes every trace of it
MSG
