# Sourced by scripts/bench-migrate, bench-adopt, bench-annotate and bench-load: the API server a benchmark
# measures on.
#   default                      a fresh real control plane: kube-apiserver v1.36.2 + etcd on loopback, started
#                                with ../shared/tools/real-apiserver (beside the project; REAL_APISERVER_TOOL
#                                overrides) and stopped when the benchmark ends
#   --emulator (first argument)  the project's API emulator (the sandbox, release build) instead
#   or BENCH_SERVER=emulator
#   KUBECTL_WERF_TEST_KUBECONFIG that cluster, as it is
# bench_server_start exports KUBECONFIG and KUBECTL_WERF_TEST_KUBECONFIG and sets BENCH_SERVER_NAME (printed
# with the results, so every figure says which server it was measured on); bench_server_stop ends what it
# started (call it from the script's EXIT trap).

BENCH_SERVER="${BENCH_SERVER:-real}"
bench_server_dir=""
bench_server_pid=""

# Takes --emulator off the arguments: `bench_server_args "$@"; set -- "${bench_args[@]}"`.
bench_server_args() {
  bench_args=()
  for a in "$@"; do
    if [[ "$a" == --emulator ]]; then BENCH_SERVER=emulator; else bench_args+=("$a"); fi
  done
}

bench_server_start() { # TARGET_DIR (cargo's, for the sandbox binary)
  local target_dir="$1"
  if [[ -n "${KUBECTL_WERF_TEST_KUBECONFIG:-}" ]]; then
    BENCH_SERVER_NAME="the cluster of KUBECTL_WERF_TEST_KUBECONFIG ($(kubectl --kubeconfig "$KUBECTL_WERF_TEST_KUBECONFIG" version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])' 2>/dev/null || echo '?'))"
  elif [[ "$BENCH_SERVER" == emulator ]]; then
    bench_server_dir="$(mktemp -d)"
    "$target_dir/release/examples/sandbox" --listen 127.0.0.1:0 --write-kubeconfig "$bench_server_dir/kubeconfig" \
      >"$bench_server_dir/sandbox.log" 2>&1 &
    bench_server_pid=$!
    for _ in $(seq 1 100); do [[ -s "$bench_server_dir/kubeconfig" ]] && break; sleep 0.1; done
    [[ -s "$bench_server_dir/kubeconfig" ]] || { cat "$bench_server_dir/sandbox.log" >&2; echo "the sandbox did not start" >&2; exit 1; }
    export KUBECTL_WERF_TEST_KUBECONFIG="$bench_server_dir/kubeconfig"
    BENCH_SERVER_NAME="the kube-emulator sandbox (release build)"
  else
    local tool="${REAL_APISERVER_TOOL:-$PWD/../shared/tools/real-apiserver}"
    [[ -x "$tool" ]] || { echo "$tool not found: put ../shared beside the project, set REAL_APISERVER_TOOL, or pass --emulator" >&2; exit 1; }
    bench_server_dir="$(mktemp -d /tmp/kw-bench.XXXXXX)"
    "$tool" start "$bench_server_dir" >/dev/null
    export KUBECTL_WERF_TEST_KUBECONFIG="$bench_server_dir/kubeconfig"
    BENCH_SERVER_NAME="kube-apiserver v1.36.2 with etcd on loopback (a fresh control plane)"
  fi
  export KUBECONFIG="$KUBECTL_WERF_TEST_KUBECONFIG"
  echo "server: $BENCH_SERVER_NAME" >&2
}

bench_server_stop() {
  if [[ -n "$bench_server_pid" ]]; then kill "$bench_server_pid" 2>/dev/null || true; fi
  if [[ -n "$bench_server_dir" && "$BENCH_SERVER" != emulator ]]; then
    "${REAL_APISERVER_TOOL:-$PWD/../shared/tools/real-apiserver}" stop "$bench_server_dir" >/dev/null 2>&1 || true
  fi
  if [[ -n "$bench_server_dir" ]]; then rm -rf "$bench_server_dir"; fi
}
