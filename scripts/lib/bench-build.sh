# How the benchmarks are built (sourced by scripts/bench*.sh).
#
# A full run measures release builds. A quick run (`./scripts/bench.sh --quick`, what CI runs
# after the tests) only checks that each benchmark still runs from start to end: it sets
# PULSETAP_BENCH_BUILD=debug and uses the debug builds `cargo test --workspace` has just made,
# instead of compiling the workspace twice more in release (about 12 of CI's minutes on 2
# cores). Its figures mean nothing then; `PULSETAP_BENCH_BUILD=release ./scripts/bench.sh
# --quick` gives a quick run of release builds.

# run_bench <package> <bench>: builds and runs one `cargo bench` target.
run_bench() {
  if [ "${PULSETAP_BENCH_BUILD:-release}" = debug ]; then
    # The packages and features of `cargo test --workspace`: only the bench itself compiles.
    cargo test --workspace --locked --bench "$2"
  else
    cargo bench --locked -p "$1" --bench "$2"
  fi
}

# build_collector <example>: builds `collector` and one of the crate's examples, and sets
# `bin_dir` to where they are.
build_collector() {
  if [ "${PULSETAP_BENCH_BUILD:-release}" = debug ]; then
    # What `cargo test --workspace` built, the crate's examples among it (nothing is left to
    # build after the tests; `cargo build` would compile much of the workspace again with other
    # proc-macro builds). That collector has the test-only `fault-injection` feature, which does
    # nothing unless its environment variables are set.
    cargo test --workspace --locked --no-run
    bin_dir=target/debug
  else
    # Two builds: an example turns on the crate's dev-dependencies, and with them its test-only
    # `fault-injection` feature, which the collector measured here must be built without.
    cargo build --release --locked -p pulsetap-collector --bin collector
    cargo build --release --locked -p pulsetap-collector --example "$1"
    bin_dir=target/release
  fi
}
