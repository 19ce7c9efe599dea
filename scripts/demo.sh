#!/usr/bin/env bash
# The newcomer's first command (as root, on Debian 12 or Ubuntu 22.04+):
# installs what minipod needs, starts its daemon, builds and loads the demo
# images offline, and runs the sidecar example (a web app and its log
# shipper, plus the central log collector pod), sends it a few requests and
# shows them arriving at the collector. Running it again is fine.
#
#   sudo scripts/demo.sh [POD.yaml]    default: the sidecar example
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
manifest=${1:-}
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

echo "==> building the demo images offline (busybox-static + examples/apps) and loading them"
go_bin=$(bash scripts/install.sh --print-go)
GO=$go_bin bash scripts/build-busybox-image.sh -o _output/images/busybox.tar >/dev/null
minipod image load _output/images/busybox.tar >/dev/null
GO=$go_bin bash scripts/build-demo-images.sh -o _output/images --load >/dev/null
minipod image ls

# rerun deletes what an earlier run left, then runs FILE.
rerun() {
	minipod delete -f "$1" --now >/dev/null 2>&1 || true
	echo "==> minipod run $1"
	minipod run "$1"
}

if [[ -n $manifest ]]; then
	rerun "$manifest"
	pod=$(minipod get pods -o name | head -n 1)
	pod=${pod#pod/}
	cat <<MSG

Your pod is running. Things to try:
  minipod get pods -o wide                  # IP, READY and STATUS columns
  minipod describe pod $pod                 # containers, network namespace, volumes
  minipod logs $pod -c CONTAINER -f
  minipod exec -it $pod -c CONTAINER -- sh
  minipod run --dry-run $manifest           # the plan: everything minipod creates, step by step
  minipod delete -f $manifest               # removes every trace of it
MSG
	exit 0
fi

collector_yaml=examples/log-collector/pod.yaml
sidecar_yaml=examples/sidecar/pod.yaml
minipod delete -f "$sidecar_yaml" --now >/dev/null 2>&1 || true
rerun "$collector_yaml"
rerun "$sidecar_yaml"

pod_ip() {
	minipod get pod "$1" -o json | sed -n 's/.*"podIP": *"\([^"]*\)".*/\1/p' | head -n 1
}
web_ip=$(pod_ip web)
collector_ip=$(pod_ip log-collector)

echo "==> three requests from this host to the web app at $web_ip:8080"
for path in /hello /about /cart; do
	printf '    GET %-7s -> %s' "$path" "$(curl -fsS --retry 30 --retry-all-errors --retry-delay 1 "http://$web_ip:8080$path")"
	echo
done

echo "==> the same requests, as access-log lines at the collector ($collector_ip), shipped by the log-shipper sidecar"
lines=""
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
	lines=$(curl -fsS "http://$collector_ip:9001/lines" 2>/dev/null || true)
	grep -q ' /cart ' <<<"$lines" && break
	sleep 0.2
done
if [[ -z $lines ]]; then
	echo "demo: no lines reached the collector in 30s; see: minipod logs web -c log-shipper" >&2
	exit 1
fi
while IFS= read -r line; do
	echo "    $line"
done <<<"$lines"

# The same pods, as kubectl shows them: the daemon serves the Kubernetes
# API (https://127.0.0.1:6443), and `minipod kubeconfig` reaches it. The
# user's own kubeconfig is left alone; `sudo minipod kubeconfig --merge`
# adds the context to it when they choose.
if command -v kubectl >/dev/null; then
	echo
	echo "==> kubectl get pods -o wide (kubectl --kubeconfig <(minipod kubeconfig) ...)"
	if ! kubectl --kubeconfig <(minipod kubeconfig) get pods -o wide; then
		echo "demo: kubectl could not reach the daemon's Kubernetes API; see: minipod kubeconfig" >&2
		exit 1
	fi
fi

cat <<MSG

What happened: pod "web" runs two containers in one network namespace
($web_ip). The app wrote one access-log line per request to the emptyDir
volume "logs"; the log-shipper sidecar, mounting the same volume read-only,
followed the file and sent each line to the pod "log-collector", which it
reached by name (log-collector:9000, from the /etc/hosts minipod keeps).

Things to try (kubectl works too, as on a cluster):
  sudo minipod kubeconfig --merge            # adds a "minipod" context to ~/.kube/config
  kubectl get pods -o wide                   # both pods, their IPs
  kubectl describe pod web                   # two containers, one IP, the shared volume
  kubectl logs web -c log-shipper -f         # the sidecar shipping, live
  minipod get pods -o wide                   # the same, without a kubeconfig
  curl http://$web_ip:8080/anything
  minipod logs log-collector                 # ... and the line it made, shipped
  minipod logs web -c log-shipper -f         # the sidecar shipping, live
  minipod describe pod web                   # two containers, one IP, the shared volume
  minipod exec web -c app -- cat /var/log/webapp/access.log
  minipod exec -it web -c log-shipper -- sh  # busybox is in every demo image
  minipod run --dry-run $sidecar_yaml        # everything minipod creates, step by step
  minipod delete -f $sidecar_yaml            # removes every trace of the pod
  minipod delete -f $collector_yaml

The adapter and ambassador patterns are next door: examples/adapter/README.md
and examples/ambassador/README.md.
MSG
