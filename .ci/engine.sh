#!/usr/bin/env bash
# Start a private Docker Engine on a socket of its own, unless one already answers there.
# Prints nothing but errors; callers export DOCKER_HOST themselves (see .ci/env).
set -euo pipefail
: "${AUDITOR_ENGINE_DIR:=/tmp/auditor-engine}"
sock="unix://$AUDITOR_ENGINE_DIR/docker.sock"
if DOCKER_HOST="$sock" docker version >/dev/null 2>&1; then
  exit 0
fi
mkdir -p "$AUDITOR_ENGINE_DIR/data" "$AUDITOR_ENGINE_DIR/exec"
# An engine killed with its session leaves its pid file and socket behind: clear them.
rm -f "$AUDITOR_ENGINE_DIR/dockerd.pid" "$AUDITOR_ENGINE_DIR/docker.sock"
nohup dockerd --data-root "$AUDITOR_ENGINE_DIR/data" --exec-root "$AUDITOR_ENGINE_DIR/exec" \
  --host "$sock" --pidfile "$AUDITOR_ENGINE_DIR/dockerd.pid" \
  >"$AUDITOR_ENGINE_DIR/dockerd.log" 2>&1 &
for _ in $(seq 1 60); do
  if DOCKER_HOST="$sock" docker version >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "dockerd did not start; see $AUDITOR_ENGINE_DIR/dockerd.log" >&2
tail -20 "$AUDITOR_ENGINE_DIR/dockerd.log" >&2
exit 1
