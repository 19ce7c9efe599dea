#!/usr/bin/env bash
# A real Kubernetes API server for minipod's tests: kube-apiserver, etcd and
# the newest kubectl, built from the Go module proxy with the small wrapper
# modules under scripts/kube/, and run on loopback under a directory of the
# caller's choosing. Nothing of the host's is touched.
#
#   scripts/kube.sh build [CACHE [NAME...]]  build the three binaries, or the
#                                            named ones (etcd kubectl apiserver), cached
#   scripts/kube.sh bin NAME [CACHE]         print the path of a built binary
#   scripts/kube.sh start DIR PORT [CACHE]   etcd + kube-apiserver on 127.0.0.1:PORT;
#                                            DIR/kubeconfig reaches it
#   scripts/kube.sh stop DIR
#
# CACHE defaults to $MINIPOD_KUBE_CACHE or /var/cache/minipod-kube; the
# binaries live in CACHE/<hash of the wrapper modules>/, so a change of
# release builds anew and a second run costs nothing. A cold build takes
# about 5 minutes on 2 cores (kube-apiserver is most of it).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/testenv.sh
. "$repo_root/scripts/testenv.sh"

kube_log() {
	echo "kube: $*" >&2
}

kube_cache() {
	echo "${1:-${MINIPOD_KUBE_CACHE:-/var/cache/minipod-kube}}"
}

# kube_key: a hash of everything that decides the binaries.
kube_key() {
	(cd "$repo_root/scripts/kube" && cat ./*/go.mod ./*/go.sum ./*/main.go && go env GOVERSION GOARCH) | sha256sum | cut -c1-16
}

kube_dir() {
	echo "$(kube_cache "${1:-}")/$(kube_key)"
}

kube_build() {
	local dir name start names=(etcd kubectl apiserver)
	dir=$(kube_dir "${1:-}")
	shift || true
	(($# == 0)) || names=("$@")
	mkdir -p "$dir"
	for name in "${names[@]}"; do
		[[ -d $repo_root/scripts/kube/$name ]] || {
			kube_log "no such binary $name (want etcd, kubectl or apiserver)"
			return 2
		}
		if [[ -x $dir/$name ]]; then
			continue
		fi
		start=$SECONDS
		kube_log "building $name (scripts/kube/$name) into $dir"
		(cd "$repo_root/scripts/kube/$name" && GOFLAGS=-mod=mod go build -trimpath -o "$dir/$name.tmp" .)
		mv "$dir/$name.tmp" "$dir/$name"
		kube_log "built $name in $((SECONDS - start))s"
	done
}

kube_bin() {
	local name=${1:?usage: bin NAME [CACHE]} dir
	dir=$(kube_dir "${2:-}")
	[[ -x $dir/$name ]] || {
		kube_log "$name is not built; run scripts/kube.sh build"
		return 1
	}
	echo "$dir/$name"
}

# kube_start DIR PORT: etcd on two free loopback ports of its own and
# kube-apiserver on 127.0.0.1:PORT, with a static token for the tests
# (DIR/kubeconfig). The ServiceAccount admission plugin is off: no
# controller manager creates the default service account, and the question
# asked of this server is only whether a manifest is valid.
kube_start() {
	local dir=${1:?usage: start DIR PORT} port=${2:?usage: start DIR PORT} cache=${3:-}
	local etcd apiserver kubectl token deadline epeer eclient
	etcd=$(kube_bin etcd "$cache")
	apiserver=$(kube_bin apiserver "$cache")
	kubectl=$(kube_bin kubectl "$cache")
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	eclient=$((port + 1))
	epeer=$((port + 2))
	"$etcd" --name minipod-test --data-dir "$dir/etcd" \
		--listen-client-urls "http://127.0.0.1:$eclient" --advertise-client-urls "http://127.0.0.1:$eclient" \
		--listen-peer-urls "http://127.0.0.1:$epeer" --initial-advertise-peer-urls "http://127.0.0.1:$epeer" \
		--initial-cluster "minipod-test=http://127.0.0.1:$epeer" \
		--log-level warn </dev/null >>"$dir/etcd.log" 2>&1 &
	echo $! >"$dir/etcd.pid"
	openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
	token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	echo "$token,minipod-test,minipod-test,system:masters" >"$dir/tokens.csv"
	chmod 0600 "$dir/tokens.csv" "$dir/sa.key"
	"$apiserver" --etcd-servers "http://127.0.0.1:$eclient" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
		--cert-dir "$dir/certs" --token-auth-file "$dir/tokens.csv" \
		--authorization-mode AlwaysAllow \
		--service-account-issuer https://kubernetes.default.svc --service-account-key-file "$dir/sa.key" \
		--service-account-signing-key-file "$dir/sa.key" --service-cluster-ip-range 10.0.0.0/24 \
		--disable-admission-plugins ServiceAccount --enable-priority-and-fairness=false \
		--endpoint-reconciler-type none --allow-privileged=true \
		</dev/null >>"$dir/apiserver.log" 2>&1 &
	echo $! >"$dir/apiserver.pid"
	cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$port
    insecure-skip-tls-verify: true
users:
- name: test
  user:
    token: $token
contexts:
- name: test
  context: {cluster: test, user: test, namespace: default}
current-context: test
EOF
	chmod 0600 "$dir/kubeconfig"
	deadline=$((SECONDS + ${KUBE_START_TIMEOUT:-120}))
	# Ready when the default namespace exists (the API server makes it at
	# start-up).
	until "$kubectl" --kubeconfig "$dir/kubeconfig" get namespace default >/dev/null 2>&1; do
		if ! testenv_alive "$(<"$dir/apiserver.pid")" "$dir/tokens.csv"; then
			kube_log "kube-apiserver exited; last lines of $dir/apiserver.log:"
			tail -n 30 "$dir/apiserver.log" >&2
			kube_stop "$dir"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			kube_log "kube-apiserver did not answer within ${KUBE_START_TIMEOUT:-120}s; see $dir/apiserver.log"
			kube_stop "$dir"
			return 1
		fi
		sleep 0.2
	done
	kube_log "kube-apiserver running on https://127.0.0.1:$port (kubeconfig $dir/kubeconfig)"
}

kube_stop() {
	local dir=${1:?usage: stop DIR}
	dir=$(cd "$dir" 2>/dev/null && pwd) || return 0
	testenv_stop_pid "$dir/apiserver.pid" "$dir/tokens.csv" kube-apiserver
	testenv_stop_pid "$dir/etcd.pid" "$dir/etcd" etcd
}

kube_main() {
	local sub=${1:-}
	shift || true
	case $sub in
	build) kube_build "$@" ;;
	bin) kube_bin "$@" ;;
	start) kube_start "$@" ;;
	stop) kube_stop "$@" ;;
	*)
		sed -n '2,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
		return 2
		;;
	esac
}

kube_main "$@"
