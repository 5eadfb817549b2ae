#!/usr/bin/env bash
# The soak benchmark (not in CI): the release `collector serve` under half its maximum load for
# 30 minutes, SIGKILLed and restarted every 5 minutes, with a burst of customers arriving at 20×
# its capacity for 10 s every 10 minutes. It prints, minute by minute, the ratings acknowledged,
# the 503s answered, the p50/p99 of the steady load, the collector's resident memory and the ratings
# stored so far; then the acknowledged ratings against those stored (every acknowledged one must
# be stored), a verdict on memory, and an audit of the store. Exits non-zero if an acknowledged
# rating is missing or the audit fails.
#
# Memory: every request is a new rating (so every acknowledgement can be checked against the
# store), so the store grows by about 1.5 million responses in ten minutes and the collector's
# memory need not be flat over time the way a fixed working set's would be: an engine may keep
# something in memory per stored record (sled, the engine before fjall, kept a record per page
# of 16 entries at most, held already on opening the store). The soak therefore
# prints both: resident memory over time, and per million stored responses, with the resident
# memory of each restart on opening the store; and a verdict comparing the first window after
# the warm-up with the last: flat over time, or growing only in proportion to the store, or
# growing faster than the store (what a leak looks like). On PostgreSQL the store is outside the
# collector, so the verdict is flat or not flat over time, nothing per stored rating.
#
#   ./scripts/bench.sh soak                                  # 30 minutes
#   PULSETAP_SOAK_STORE=postgres ./scripts/bench.sh soak     # the same, on PostgreSQL
#   PULSETAP_SOAK_SECONDS=180 PULSETAP_SOAK_KILL_EVERY=60 PULSETAP_SOAK_BURST_EVERY=120 \
#     ./scripts/bench.sh soak                                # a 3-minute trial
#
# Settings (environment): PULSETAP_SOAK_SECONDS (1800), PULSETAP_SOAK_KILL_EVERY (300),
# PULSETAP_SOAK_BURST_EVERY (600; the first burst comes after a quarter of it),
# PULSETAP_SOAK_BURST_SECONDS (10), PULSETAP_SOAK_BURST_TIMES (20: the burst's arrivals per
# second, in multiples of the capacity),
# PULSETAP_SOAK_CONNECTIONS (64, the steady load), PULSETAP_SOAK_NOFILE (1024: the collector's
# file-descriptor limit, so 960 connections, the default outside systemd),
# PULSETAP_SOAK_STORE (embedded, or postgres: a throwaway PostgreSQL that syncs its commits, as
# scripts/bench-postgres.sh starts; the store then lives outside the collector, so its memory
# shows the collector's own), PULSETAP_SOAK_WARMUP (300: memory windows start after it, once
# the first collector, started
# on an empty store, was killed), PULSETAP_SOAK_WINDOW (600: the length of the first and the
# last memory windows; at most half of what follows the warm-up), PULSETAP_SOAK_FLAT (15: the
# growth in percent the memory verdict tolerates).
#
# How: wrk (scripts/bench-http.lua, each request a new rating) first measures the collector's
# capacity (closed loop, 15 s); then one-minute rounds of wrk paced at half of it follow each
# other, while a second loop SIGKILLs and restarts the collector on the same port and data, and
# runs the bursts: collector/examples/open_loop_burst.rs, new customers arriving by the clock,
# each with a new rating on a connection of its own, whether or not answers come back (wrk can't:
# its connections wait for an answer before asking again). It prints what it asked for, what it
# could offer (it holds 16,000 sockets at most: an arrival finding them all waiting is counted
# "not sent"; on 2 cores that, not the collector, bounds the burst, see BENCHMARKS.md) and the
# answers. Every 2xx's response_id is written down by wrk (PULSETAP_WRK_ACKED) and by the burst;
# at the end the survey's CSV export gives the stored ones. A rating stored but never
# acknowledged is fine (in flight at a kill, or answered 503 "may be stored"); an acknowledged
# one missing is a lost rating.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure.sh
source scripts/lib/postgres.sh

total=${PULSETAP_SOAK_SECONDS:-1800}
kill_every=${PULSETAP_SOAK_KILL_EVERY:-300}
burst_every=${PULSETAP_SOAK_BURST_EVERY:-600}
burst_seconds=${PULSETAP_SOAK_BURST_SECONDS:-10}
burst_times=${PULSETAP_SOAK_BURST_TIMES:-20}
connections=${PULSETAP_SOAK_CONNECTIONS:-64}
nofile=${PULSETAP_SOAK_NOFILE:-1024}
warmup=${PULSETAP_SOAK_WARMUP:-300}
window=${PULSETAP_SOAK_WINDOW:-600}
if [ $((2 * window)) -gt $((total - warmup)) ]; then window=$(((total - warmup) / 2)); fi
flat=${PULSETAP_SOAK_FLAT:-15}
engine=${PULSETAP_SOAK_STORE:-embedded}
round=60
read_key=soak-read-key

if ! command -v wrk >/dev/null; then
  step "installing wrk (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk >/dev/null
fi
step "building the collector and the burst's generator"
source scripts/lib/bench-build.sh
build_collector open_loop_burst

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -f "$work/collector.pid" ]; then kill -9 "$(cat "$work/collector.pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
  stop_throwaway_postgres
}
trap cleanup EXIT
# The store: the embedded one in the data directory, or a database on a throwaway PostgreSQL.
store=()
case $engine in
  embedded) ;;
  postgres)
    PG_DURABLE=1 start_throwaway_postgres
    # start_throwaway_postgres sets its own EXIT trap; cleanup stops the server too.
    trap cleanup EXIT
    store=(--store "$(create_database soak)")
    ;;
  *) echo "PULSETAP_SOAK_STORE must be embedded or postgres, not $engine" >&2; exit 2 ;;
esac

cat >"$work/pulsetap.toml" <<EOF
read_keys = ["$read_key"]
[limits]
visitor_requests_per_second = 1000000000
visitor_burst = 1000000000
[[survey]]
id = "bench"
allowed_origins = ["https://shop.example.com"]
tags = ["agent", "channel"]
max_per_visitor_per_day = 1000000000
max_unverified_per_day = 1000000000
EOF

# The wrk processes hold thousands of sockets too: as many descriptors as we may.
ulimit -n "$(ulimit -Hn)"
port=0 url=
started_at=$(date +%s)
now() { echo $(($(date +%s) - started_at)); }

# start_collector: starts `collector serve` on $port and waits for /healthz, starting it again
# if it exits (a killed one's store lock can take a moment to go), as a supervisor would.
start_collector() {
  local began=$SECONDS pid=
  until [ -n "$url" ] && curl -fsS -o /dev/null --max-time 1 "$url/healthz" 2>/dev/null; do
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
      (ulimit -n "$nofile" && exec "$bin_dir/collector" serve --listen "127.0.0.1:$port" \
        --config "$work/pulsetap.toml" --data "$work/data" "${store[@]}" >"$work/collector.out" 2>>"$work/collector.log") &
      pid=$!
      # Its SIGKILL is the point: no "Killed" notice from the shell.
      disown "$pid"
      echo "$pid" >"$work/collector.pid"
    fi
    # The first start takes a free port; every restart takes the same one.
    if [ "$port" = 0 ]; then
      url=$(grep -o 'http://[^ ]*' "$work/collector.out" | head -1) || true
      port=${url##*:}
      port=${port:-0}
      if [ "$port" = 0 ]; then sleep 0.05; continue; fi
    fi
    if [ $((SECONDS - began)) -gt 120 ]; then
      echo "the collector did not come up:" >&2
      tail -n 20 "$work/collector.log" >&2
      exit 1
    fi
    sleep 0.05
  done
}

# wrk_run <name> <run> <seconds> <connections> [pace ms]: one wrk run recording acknowledged ids;
# prints its RESULT line's values as "key=value …". <run> must differ between runs: the ids of
# its ratings and its random numbers follow from it, so two runs with one number send many of the
# same ratings again (answered "unchanged"), and a rating lost at a kill could be stored again by
# a later run and go unnoticed. wrk_run runs in a command substitution (a subshell), so it can't
# count runs itself: the main loop numbers its runs from run_base (the ids keep the run number
# modulo 16384; the bursts' ids are random).
run_base=$((RANDOM % 4096))
wrk_run() {
  local name=$1 run_number=$2 seconds=$3 conns=$4 pace=${5:-0}
  local out="$work/wrk-$name-$run_number.txt"
  PULSETAP_WRK_KIND=anonymous PULSETAP_WRK_RUN=$run_number PULSETAP_WRK_PACE=$pace \
    PULSETAP_WRK_ACKED="$work/acked/$name" \
    wrk --threads 2 --connections "$conns" --duration "${seconds}s" --timeout 15s \
    --script scripts/bench-http.lua "$url/v1/responses" >"$out" 2>&1 || true
  grep '^RESULT ' "$out" | sed 's/^RESULT //' || echo "requests=0"
}
field() { grep -o "$1=[0-9/]*" <<<"$2" | head -1 | cut -d= -f2; }

mkdir -p "$work/acked"
start_collector
echo "soak ($engine store): ${total}s at half load ($connections connections), SIGKILL every ${kill_every}s," \
  "a ${burst_seconds}s burst of arrivals at ${burst_times}x the capacity every ${burst_every}s;" \
  "collector file-descriptor limit $nofile; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

step "capacity: 15 s as fast as it answers, $connections connections"
main_runs=0
capacity_result=$(wrk_run capacity "$run_base" 15 "$connections")
capacity=$(($(field acknowledged "$capacity_result") / 15))
target=$((capacity / 2))
pace=$(awk -v c="$connections" -v r="$target" 'BEGIN { printf "%.1f", c * 1000 / r }')
burst_rate=$((capacity * burst_times))
echo "capacity ${capacity} ratings/s; the steady load aims at ${target}/s, the bursts at ${burst_rate} arrivals/s"

# The resident memory of whichever collector process is running, in kB.
collector_rss() { awk '/^VmRSS/ { print $2 }' "/proc/$(cat "$work/collector.pid" 2>/dev/null)/status" 2>/dev/null || true; }
# Ratings acknowledged so far (wrk writes its ids down in blocks of 500): all of them are stored.
acknowledged_so_far() { cat "$work"/acked/* 2>/dev/null | wc -l; }

# Every 5 s: "seconds RSS-kB ratings-acknowledged-so-far".
(
  while true; do
    rss=$(collector_rss)
    if [ -n "$rss" ]; then echo "$(now) $rss $(acknowledged_so_far)" >>"$work/rss.txt"; fi
    sleep 5
  done
) &
pids+=($!)

# The chaos: kills and bursts at their times, one line each in events.txt.
(
  next_kill=$kill_every
  next_burst=$((burst_every / 4))
  bursts_run=0
  while true; do
    t=$(now)
    if [ "$t" -ge "$total" ]; then break; fi
    if [ "$t" -ge "$next_kill" ]; then
      kill -9 "$(cat "$work/collector.pid")"
      killed_at=$(date +%s.%N)
      start_collector
      healthy_at=$(date +%s.%N)
      echo "$t kill: SIGKILL, back up and healthy in $(awk -v a="$killed_at" -v b="$healthy_at" 'BEGIN { printf "%.2f", b - a }') s," \
        "resident on opening the store $(($(collector_rss) / 1024)) MB with $(acknowledged_so_far) ratings acknowledged so far" >>"$work/events.txt"
      next_kill=$((next_kill + kill_every))
    elif [ "$t" -ge "$next_burst" ]; then
      bursts_run=$((bursts_run + 1))
      result=$("$bin_dir/examples/open_loop_burst" "$url" "$burst_rate" "$burst_seconds" "$work/acked/burst-$bursts_run" |
        sed -n 's/^RESULT //p')
      echo "$t burst: $result" >>"$work/events.txt"
      next_burst=$((next_burst + burst_every))
    fi
    sleep 0.2
  done
) &
chaos=$!
pids+=($chaos)

step "soak"
printf '%6s %8s %8s %9s %8s %7s %8s %8s %7s %8s %7s  %s\n' minute "acked/s" overload unconfirm conncap errors "p50 ms" "p99 ms" "RSS MB" "stored M" "MB / M" events
minute=0
while [ "$(now)" -lt "$total" ]; do
  seconds=$((total - $(now)))
  if [ "$seconds" -gt "$round" ]; then seconds=$round; fi
  from=$(now)
  main_runs=$((main_runs + 1))
  result=$(wrk_run steady $((run_base + main_runs)) "$seconds" "$connections" "$pace")
  to=$(now)
  rss=$(awk -v a="$from" -v b="$to" '$1 >= a && $1 <= b && $2 > m { m = $2 } END { printf "%.0f", m / 1024 }' "$work/rss.txt" 2>/dev/null || echo "?")
  stored=$(awk -v b="$to" '$1 <= b { s = $3 } END { printf "%.3f", s / 1e6 }' "$work/rss.txt" 2>/dev/null || echo "?")
  events=$(awk -v a="$from" -v b="$to" '$1 >= a && $1 < b { print $2 }' "$work/events.txt" 2>/dev/null | tr -d ':' | paste -sd, - || true)
  printf '%6d %8s %8s %9s %8s %7s %8s %8s %7s %8s %7s  %s\n' "$minute" \
    "$(awk -v n="$(field acknowledged "$result")" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')" \
    "$(field overloaded "$result")" "$(field unconfirmed "$result")" "$(field too_many_connections "$result")" \
    "$(field socket_errors "$result")" \
    "$(awk -v u="$(field p50_us "$result")" 'BEGIN { printf "%.2f", u / 1000 }')" \
    "$(awk -v u="$(field p99_us "$result")" 'BEGIN { printf "%.2f", u / 1000 }')" \
    "$rss" "$stored" "$(awk -v r="$rss" -v s="$stored" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print "-" }')" "$events"
  echo "$minute $result" >>"$work/rounds.txt"
  minute=$((minute + 1))
done
wait "$chaos" || true

echo
echo "events:"
sed 's/^/  /' "$work/events.txt" 2>/dev/null || true
sum() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) s += kv[2] } } END { print s + 0 }' "$2"; }
awk '{ $1 = ""; print }' "$work/rounds.txt" >"$work/all-results.txt"
sed -n 's/^[0-9]* burst: //p' "$work/events.txt" >"$work/bursts.txt" || true
cat "$work/bursts.txt" >>"$work/all-results.txt"
echo "$capacity_result" >>"$work/all-results.txt"
echo
for kind in overloaded unconfirmed too_many_connections other; do
  printf '503s and others answered, %-22s %s\n' "$kind:" "$(sum "$kind" "$work/all-results.txt")"
done
bursts=$(wc -l <"$work/bursts.txt")
if [ "$bursts" -gt 0 ]; then
  awk -v n="$((bursts * burst_seconds))" -v c="$capacity" -v asked="$burst_rate" -v times="$burst_times" -v b="$bursts" '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); t[kv[1]] += kv[2] } }
    END {
      sent = t["offered"] - t["not_sent"]
      printf "bursts: %d, asking %d arrivals/s (%sx the capacity) for %d s each\n", b, asked, times, n / b
      printf "  sent to the collector: %.0f/s (%.2fx the capacity); not sent: %d (the generator'"'"'s sockets were all waiting)\n", sent / n, sent / n / c, t["not_sent"]
      printf "  answered %.0f/s: acknowledged %.0f/s, overloaded %d, too_many_connections %d, other %d; no answer (reset, or none in 15 s): %d\n", t["requests"] / n, t["acknowledged"] / n, t["overloaded"], t["too_many_connections"], t["other"], t["socket_errors"]
    }' "$work/bursts.txt"
fi
echo "p99 of the steady load, by minute: median $(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "p99_us") print kv[2] / 1000 } }' "$work/rounds.txt" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') ms, worst $(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "p99_us" && kv[2] > m) m = kv[2] } } END { printf "%.2f", m / 1000 }' "$work/rounds.txt") ms"
echo "RSS: first minute $(awk '$1 < 60 && $2 > m { m = $2 } END { printf "%.0f", m / 1024 }' "$work/rss.txt") MB, highest $(awk '$2 > m { m = $2 } END { printf "%.0f", m / 1024 }' "$work/rss.txt") MB;" \
  "on opening the store after a SIGKILL: $(grep -o 'store [0-9]* MB with [0-9]*' "$work/events.txt" 2>/dev/null | awk '{ printf "%s%s MB at %.2f M", sep, $2, $5 / 1e6; sep = ", " }')"
# The verdict on memory: the highest RSS of the first window after the warm-up against that of
# the last window, as such and, on the embedded store (which lives in the collector), per
# million ratings stored by then. A PostgreSQL store lives outside the collector, so there only
# the first comparison means anything.
awk -v w0="$warmup" -v w1=$((warmup + window)) -v l0=$((total - window)) -v t="$total" -v flat="$flat" -v engine="$engine" '
  $1 >= w0 && $1 < w1 { if ($2 > a) a = $2; if ($3 > sa) sa = $3 }
  $1 >= l0 { if ($2 > b) b = $2; if ($3 > sb) sb = $3 }
  END {
    if (a == 0 || b == 0 || sa == 0 || sb == 0) { print "memory verdict: not enough samples"; exit }
    over_time = (b / a - 1) * 100
    per_million = (b / sb) / (a / sa)
    printf "RSS over time: highest %.0f MB in minutes %d-%d (%.2f M ratings stored), %.0f MB in minutes %d-%d (%.2f M): %+.0f%%\n", a / 1024, w0 / 60, w1 / 60, sa / 1e6, b / 1024, l0 / 60, t / 60, sb / 1e6, over_time
    if (engine != "postgres")
      printf "RSS per million stored ratings: %.0f MB, then %.0f MB: %+.0f%%\n", a / 1024 / (sa / 1e6), b / 1024 / (sb / 1e6), (per_million - 1) * 100
    if (over_time <= flat) {
      printf "memory verdict: FLAT (the last window within %d%% of the first)\n", flat
    } else if (engine == "postgres") {
      printf "memory verdict: NOT FLAT (%+.0f%% over time, more than %d%%; the store is PostgreSQL'"'"'s, so this is the collector'"'"'s own memory)\n", over_time, flat
    } else if ((per_million - 1) * 100 <= flat) {
      printf "memory verdict: GROWS WITH THE STORE, NOT FASTER (not flat over time: %+.0f%% while the store grew %.1fx; per stored rating %+.0f%%, within %d%%)\n", over_time, sb / sa, (per_million - 1) * 100, flat
    } else {
      printf "memory verdict: GROWS FASTER THAN THE STORE (per stored rating %+.0f%%, more than %d%%): a leak?\n", (per_million - 1) * 100, flat
    }
  }' "$work/rss.txt"

step "acknowledged against stored"
day=$(date -u +%Y-%m-%d)
first_day=$(date -u -d @"$started_at" +%Y-%m-%d)
cat "$work"/acked/* | sort -u >"$work/acknowledged.txt"
curl -fsS -H "Authorization: Bearer $read_key" \
  "$url/v1/surveys/bench/responses?format=csv&from=$first_day&to=$day" |
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "response_id") column = i; next } { print $column }
    END { if (!column) { print "the export has no response_id column" > "/dev/stderr"; exit 1 } }' |
  sort -u >"$work/stored.txt"
acknowledged=$(wc -l <"$work/acknowledged.txt")
answers=$(cat "$work"/acked/* | wc -l)
if [ "$answers" -ne "$acknowledged" ]; then
  echo "WARNING: $answers acknowledgements for $acknowledged distinct ratings: runs sent the same ids again" >&2
fi
stored=$(wc -l <"$work/stored.txt")
missing=$(comm -23 "$work/acknowledged.txt" "$work/stored.txt" | wc -l)
unacknowledged=$(comm -13 "$work/acknowledged.txt" "$work/stored.txt" | wc -l)
echo "acknowledged: $acknowledged   stored: $stored   acknowledged and stored: $((acknowledged - missing))   acknowledged but missing: $missing"
echo "stored without an acknowledgement (in flight at a kill or when a round ended, past the burst's 15 s, or answered 503 \"may be stored\"): $unacknowledged"
kill "$(cat "$work/collector.pid")"
while kill -0 "$(cat "$work/collector.pid")" 2>/dev/null; do sleep 0.1; done
echo "audit: $("$bin_dir/collector" audit --data "$work/data" "${store[@]}")"
if [ "$engine" = embedded ]; then echo "store on disk: $(du -sh "$work/data" | cut -f1)"; fi
if [ "$missing" -ne 0 ]; then
  echo "FAILED: $missing acknowledged ratings are not stored" >&2
  exit 1
fi
