#!/usr/bin/env bash
# What the registry tests need (tests/registry/): Debian's docker-registry (distribution
# 2.8, run by the tests from its binary on a free loopback port, never as the system
# service), htpasswd for basic auth, skopeo to push. Then AUDITOR_REQUIRE_REGISTRY=1 makes
# a missing one a test failure instead of a skip.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends docker-registry apache2-utils skopeo >/dev/null
# The package starts its own service where an init system runs: the tests do not use it.
if command -v service >/dev/null 2>&1; then
  service docker-registry stop >/dev/null 2>&1 || true
fi
