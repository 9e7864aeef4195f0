#!/usr/bin/env bash
# auditor's own image: build it from the Dockerfile at the repository root and scan it with
# the strict policy, which it must pass. The wheels are made here, on the host (the build
# reaches only the Debian mirror of its base image), for the Python of that base (3.11).
#
#   DOCKER_HOST=... bash .ci/self-image.sh            # exits non-zero when strict fails it
#   AUDITOR_SELF_IMAGE=auditor:dev KEEP=1 bash .ci/self-image.sh   # keep the image and
#                                                                 # the build stage (cache)
set -euo pipefail
cd "$(dirname "$0")/.."
image=${AUDITOR_SELF_IMAGE:-auditor-self:ci}
python=${PYTHON:-python3}
start=$(date +%s)
step() { printf '== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))" >&2; }

step "wheels"
rm -rf wheels
log=$(mktemp /tmp/auditor-self-image.XXXXXX)
{
  "$python" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir wheels .
  # binary wheels for the base image's CPython 3.11 on glibc 2.36, whatever runs this script
  "$python" -m pip download --quiet --disable-pip-version-check --dest wheels \
    --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 --abi abi3 \
    --abi none --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    wheels/auditor-*.whl
} >"$log" 2>&1 || { tail -30 "$log" >&2; rm -f "$log"; exit 2; }
rm -f "$log"

step "build $image"
docker build --quiet --network host --tag "$image" . >/dev/null
cleanup() {
  rm -rf wheels
  if [ "${KEEP:-0}" != 1 ]; then
    docker image rm "$image" >/dev/null 2>&1 || true
    # the build stage, and its apt layer with it: the next build starts cold (about 2 min)
    docker image prune --force --filter label=org.auditor.self-image.stage=build >/dev/null
  fi
}
trap cleanup EXIT
docker image inspect --format 'size {{.Size}} bytes, user {{.Config.User}}' "$image" >&2

step "the image runs: it audits a saved image from its standard input"
docker run --rm --network none "$image" --version >&2
probe=${AUDITOR_SELF_PROBE:-auditor-fixture/busybox-app:latest}
if docker image inspect "$probe" >/dev/null 2>&1; then
  docker save "$probe" | docker run --rm -i --network none --read-only "$image" \
    scan docker-archive:- --policy default --format json --no-progress >/dev/null \
    || { echo "self-image: the image could not audit $probe" >&2; exit 2; }
fi

step "scan --policy strict"
status=0
"$python" -m auditor scan "docker:$image" --policy strict --dockerfile Dockerfile \
  --no-progress || status=$?
step "done: exit $status"
exit "$status"
