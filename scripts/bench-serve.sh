#!/usr/bin/env bash
# Benchmark of `atomyx-guard serve`: from a signed push delivery to the
# leaked key's revocation, on loopback only. The real binary serves; the
# local Vault, the fake GitHub and a smart-HTTP git server (git
# http-backend) run in the test process (internal/serve TestBenchServe).
# Signed push deliveries for REPOS repositories go out at RATE per second
# for DURATION, LEAK of them pushing a commit that holds a new live key.
# It prints p50/p90/p99 delivery → revocation, throughput, and the
# service's RSS and Go heap every 10 s; it fails if a delivery is lost or
# processed twice, or a key is revoked twice or never. It stops by itself.
#
#   scripts/bench-serve.sh                          # 50 repos, 10/s, 2 minutes, 10% leaking
#   DURATION=10m scripts/bench-serve.sh             # the issue's target run
#   REPOS=10 RATE=5 DURATION=30s WORKERS=4 scripts/bench-serve.sh
#   SERVE_ARGS="--no-git-binary" scripts/bench-serve.sh   # more serve flags
#
# This is a benchmark, not a test: nothing asserts a wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
export ATOMYX_BENCH_SERVE=1
export BENCH_REPOS=${REPOS:-50} BENCH_RATE=${RATE:-10} BENCH_DURATION=${DURATION:-2m}
export BENCH_LEAK=${LEAK:-0.1} BENCH_WORKERS=${WORKERS:-2} BENCH_SERVE_ARGS=${SERVE_ARGS:-}
exec go test ./internal/serve -run '^TestBenchServe$' -count=1 -v -timeout 0
