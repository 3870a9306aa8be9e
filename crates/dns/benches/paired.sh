#!/usr/bin/env bash
# Paired, interleaved CPU-per-query runs: Unbound and one or two appwarden
# binaries loaded side by side with the same list, then dnsperf runs that
# alternate between them, so that the machine's drift (a shared VM moves by
# ±25 % within minutes) hits every server alike. Complements
# ../shared/bench/run.sh, which runs the servers one after the other.
#
#   ../shared/bench/prepare.sh                     # once: packages, lists, query files
#   crates/dns/benches/paired.sh ROUNDS LIST BIN [BIN2]
#   crates/dns/benches/paired.sh 8 synth1m target/release/appwarden /tmp/appwarden-before
#
# Pinning, nice levels, dnsperf options, cache warm-up and the CPU figure are
# the harness's: servers on CPU 1 at nice -10, dnsperf on CPU 0 with -c 4
# -q 200 -t 2, µs/q = (utime+stime of the server over the run) / answers.
# Each run is 5 s (CPU sampled from 0.5 s to 3.5 s). Prints every run, the
# median µs/q per server and, per query set, the paired ratios server/Unbound.
# Loopback only: upstream knotd 127.0.10.1:5300, Unbound 127.0.20.1:5353,
# appwarden 127.0.30.1:5353 and 127.0.30.3:5353.
set -euo pipefail
rounds=${1:?rounds} list=${2:?list} bin=${3:?appwarden binary} bin2=${4:-}
B=${BENCH_WORK:-/tmp/appwarden-bench}
L=$B/lists/$list
[ -f "$L/domains.txt" ] || { echo "no $L/domains.txt: run ../shared/bench/prepare.sh" >&2; exit 1; }
W=$(mktemp -d /tmp/aw-paired.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

taskset -c 0 knotd -c "$B/work/knot.conf" >"$W/knot.log" 2>&1 &
pids+=($!)
cat >"$W/unbound.conf" <<EOF
server:
  num-threads: 1
  interface: 127.0.20.1@5353
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$W"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  msg-cache-size: 64m
  rrset-cache-size: 128m
  module-config: "iterator"
include: "$L/unbound-localzone.conf"
forward-zone:
  name: "."
  forward-addr: 127.0.10.1@5300
remote-control:
  control-enable: no
EOF
declare -A pid addr
start() { # name addr cmd...
  local n=$1 a=$2; shift 2
  taskset -c 1 nice -n -10 "$@" >"$W/$n.log" 2>&1 &
  pid[$n]=$!; addr[$n]=$a; pids+=($!)
}
start unbound 127.0.20.1 unbound -d -c "$W/unbound.conf"
servers=(unbound)
first=appwarden
[ -n "$bin2" ] && first=before
start "$first" 127.0.30.1 "$bin" dns --listen 127.0.30.1:5353 --upstream 127.0.10.1:5300 \
  --blocklist "$L/domains.txt" --data-dir "$W/data1" --log-level warn --api off
servers+=("$first")
if [ -n "$bin2" ]; then
  start after 127.0.30.3 "$bin2" dns --listen 127.0.30.3:5353 --upstream 127.0.10.1:5300 \
    --blocklist "$L/domains.txt" --data-dir "$W/data2" --log-level warn --api off
  servers+=(after)
fi
# loaded: a listed name is NXDOMAIN everywhere
probe=$(head -1 "$L/probe.txt")
for s in "${servers[@]}"; do
  for _ in $(seq 1 600); do
    [ "$(dig +tries=1 +time=1 -p 5353 @"${addr[$s]}" "$probe" +noall +comments 2>/dev/null |
      sed -n 's/.*status: \([A-Z]*\).*/\1/p')" = NXDOMAIN ] && break
    sleep 0.1
  done
  taskset -c 0 dnsperf -s "${addr[$s]}" -p 5353 -d "$B/queries/allowed-unique.txt" -n 2 -q 50 >/dev/null 2>&1
done

usq() { # server queryfile -> µs per answered query
  local s=$1 qf=$2 p=${pid[$1]} u0 u1 t0 t1 qps
  taskset -c 0 nice -n -10 dnsperf -s "${addr[$s]}" -p 5353 -d "$qf" -l 5 -c 4 -q 200 -t 2 -S 1 >"$W/dp.txt" 2>&1 &
  local dp=$!
  sleep 0.5; u0=$(awk '{print $14+$15}' "/proc/$p/stat"); t0=$(date +%s.%N)
  sleep 3; u1=$(awk '{print $14+$15}' "/proc/$p/stat"); t1=$(date +%s.%N)
  wait "$dp"
  qps=$(awk '/Queries per second:/{print $4}' "$W/dp.txt")
  awk -v a="$u0" -v b="$u1" -v t0="$t0" -v t1="$t1" -v q="$qps" -v hz="$(getconf CLK_TCK)" \
    'BEGIN{printf "%.2f", (b-a)/hz/(t1-t0)/q*1e6}'
}
median() { sort -g | awk '{v[NR]=$1} END{printf "%.3f", (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

for q in allowed blocked mix; do
  qf=$B/queries/$list/$q.txt
  [ "$q" = allowed ] && qf=$B/queries/allowed.txt
  : >"$W/$q.tsv"
  for r in $(seq 1 "$rounds"); do
    row=$r
    for s in "${servers[@]}"; do row="$row	$(usq "$s" "$qf")"; done
    echo "$row" >>"$W/$q.tsv"
    echo "$q round $r: ${servers[*]} = $(cut -f2- "$W/$q.tsv" | tail -1)"
  done
  for i in "${!servers[@]}"; do
    echo "$q ${servers[$i]}: median µs/q $(cut -f$((i + 2)) "$W/$q.tsv" | median)"
    [ "$i" = 0 ] && continue
    echo "$q ${servers[$i]}/unbound: paired ratios $(awk -v c=$((i + 2)) '{printf "%.2f ", $c/$2}' "$W/$q.tsv")median $(awk -v c=$((i + 2)) '{print $c/$2}' "$W/$q.tsv" | median)"
  done
done
