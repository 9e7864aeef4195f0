#!/usr/bin/env bash
# Start today's engines beside the 20.10 one, from a Debian trixie chroot:
#   docker26   Docker 26 with the classic (graphdriver) image store
#   docker26c  Docker 26 with the containerd image store (its own containerd)
#   podman     podman's Docker-compatible API (`podman system service`)
# Each runs chrooted in private mount and network namespaces, on its own data and exec
# roots, with no bridge and no iptables, so none of them touches the host engine or docker0.
# Idempotent: the chroot is reused when it is complete, an engine that answers is kept,
# the base images are loaded only when missing. Prints one `name=socket` line per engine.
#   AUDITOR_ENGINES_DIR  where the chroot, the data and the sockets live (/tmp/auditor-engines)
#   DOCKER_HOST          the 20.10 engine the base images are copied from
#   .ci/engines.sh stop  stops the three engines (the chroot stays)
set -euo pipefail
: "${AUDITOR_ENGINES_DIR:=/tmp/auditor-engines}"
: "${DOCKER_HOST:=unix:///tmp/auditor-engine/docker.sock}"
export DOCKER_HOST
D=$AUDITOR_ENGINES_DIR
R=$D/trixie
IN=/auditor-engines     # $D as seen from inside the chroot
mkdir -p "$D"

mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
: "${mirror:=http://deb.debian.org/debian}"
packages="docker.io docker-buildx docker-cli containerd runc buildah podman skopeo crun
  fuse-overlayfs netavark aardvark-dns uidmap conmon catatonit"

log() { printf 'engines: %s\n' "$*" >&2; }
fail() { log "$1"; [ -f "${2:-}" ] && tail -20 "$2" >&2; exit 1; }

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_engines() {
  for name in docker26 docker26c podman; do
    if pid_alive "$D/$name.pid"; then
      kill "$(cat "$D/$name.pid")"
      for _ in $(seq 1 30); do pid_alive "$D/$name.pid" || break; sleep 1; done
    fi
    rm -f "$D/$name.pid" "$D/$name.sock"
  done
}


make_chroot() {
  [ -e "$R/.auditor-complete" ] && return 0
  rm -rf "$R"
  log "debootstrap trixie from $mirror"
  debootstrap --variant=minbase trixie "$R" "$mirror" >"$D/debootstrap.log" 2>&1 \
    || fail "debootstrap failed" "$D/debootstrap.log"
  # No daemon may start while the packages install.
  printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
  chmod 755 "$R/usr/sbin/policy-rc.d"
  log "apt-get install in the chroot"
  # shellcheck disable=SC2086
  chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends $packages >"$D/apt.log" 2>&1 || fail "apt-get failed" "$D/apt.log"
  chroot "$R" apt-get clean
  mkdir -p "$R$IN" "$R/etc/containers/containers.conf.d"
  touch "$R/.auditor-complete"
}

# Run "$@" chrooted in $R inside a private mount namespace and a private network namespace
# (only lo), with $D at $IN. The network namespace matters: dockerd started with
# --bridge=none deletes any link named docker0, and in the host's namespace that is the
# 20.10 engine's bridge. The engines need no network: their clients come over the sockets,
# their builds use the base images already loaded.
in_chroot() {
  setsid unshare -m -n --propagation private sh -ec '
    R=$1; D=$2; IN=$3; shift 3
    mount --bind "$R" "$R"          # the new root must be a mount point, or / cannot be rslave
    for fs in proc sys dev; do mount --rbind "/$fs" "$R/$fs"; done
    mount --bind "$D" "$R$IN"
    ip link set lo up 2>/dev/null || true
    exec chroot "$R" "$@"' sh "$R" "$D" "$IN" "$@"
}

wait_for() {  # name, socket, log, pid
  for _ in $(seq 1 90); do
    if docker -H "unix://$2" version >/dev/null 2>&1; then return 0; fi
    kill -0 "$4" 2>/dev/null || break
    sleep 1
  done
  fail "$1 did not start; see $3" "$3"
}

start_docker() {  # name, extra config json
  name=$1 sock=$D/$1.sock
  if docker -H "unix://$sock" version >/dev/null 2>&1; then return 0; fi
  pid_alive "$D/$name.pid" && kill "$(cat "$D/$name.pid")" && sleep 2
  rm -f "$sock" "$D/$name.pid"
  mkdir -p "$D/$name"
  printf '%s\n' "$2" >"$D/$name/daemon.json"
  in_chroot dockerd --config-file "$IN/$name/daemon.json" \
    --data-root "/var/lib/auditor-$name" --exec-root "/run/auditor-$name" \
    --containerd-namespace "auditor-$name" --containerd-plugins-namespace "auditor-$name-plugins" \
    --cgroup-parent "auditor-$name" --iptables=false --ip6tables=false --bridge=none \
    --host "unix://$IN/$name.sock" --pidfile "$IN/$name.pid" >"$D/$name.log" 2>&1 &
  wait_for "$name" "$sock" "$D/$name.log" $!
}

start_podman() {
  sock=$D/podman.sock
  if docker -H "unix://$sock" version >/dev/null 2>&1; then return 0; fi
  pid_alive "$D/podman.pid" && kill "$(cat "$D/podman.pid")" && sleep 2
  rm -f "$sock" "$D/podman.pid"
  # crun refuses this machine's hybrid cgroups; journald is not there to take events;
  # podman's default limits for builds are above what this process may grant.
  cat >"$R/etc/containers/containers.conf.d/auditor.conf" <<EOF
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$(ulimit -Hu):$(ulimit -Hu)"]
EOF
  # setsid, unshare, sh and chroot all exec: the background job's pid is podman's.
  in_chroot podman system service --time=0 "unix://$IN/podman.sock" >"$D/podman.log" 2>&1 &
  echo $! >"$D/podman.pid"
  wait_for podman "$sock" "$D/podman.log" $!
}

# The bases come from the 20.10 engine: `docker save` there, `docker load` here.
load_bases() {  # socket
  for image in debian:bookworm auditor-fixture/busybox:latest; do
    if ! docker -H "unix://$1" image inspect "$image" >/dev/null 2>&1; then
      docker save "$image" | docker -H "unix://$1" load -q >/dev/null
    fi
  done
}

case ${1:-} in
  stop) stop_engines; exit 0 ;;
  # .ci/engines.sh cli NAME CMD...: the chroot's CMD (docker, buildx, skopeo) against the
  # engine NAME (DOCKER_HOST set); a build context comes in on standard input as a tar.
  cli) name=$2; shift 2
       in_chroot env DOCKER_HOST="unix://$IN/$name.sock" HOME=/root "$@"; exit ;;
esac

start=$(date +%s)
make_chroot
start_docker docker26 '{}'
start_docker docker26c '{"features":{"containerd-snapshotter":true}}'
start_podman
for name in docker26 docker26c podman; do load_bases "$D/$name.sock"; done
log "ready in $(( $(date +%s) - start ))s"
for name in docker26 docker26c podman; do echo "$name=unix://$D/$name.sock"; done
