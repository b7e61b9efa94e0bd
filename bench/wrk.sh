#!/bin/sh
# wrk.sh — latchkey under an external load generator, each on its own core.
#
# The gateway (and its upstream) run in `go run ./bench -serve` pinned to
# CPU 0 with GOMAXPROCS=1; wrk runs pinned to CPU 1. The gateway's core is
# then the bottleneck, so the ratio of a route's requests/s to auth-off's
# is the share of the gateway's own work that authentication adds, without
# the client's work in the same process as the harness has it.
#
#   sh bench/wrk.sh                      # 3 rounds, 32 connections, 5 s each
#   ROUNDS=5 CONNS=8 DURATION=10s sh bench/wrk.sh
#
# Needs wrk (apt-get install wrk), taskset (util-linux) and two CPUs. The
# client-cert scenario is left out: wrk sends no client certificates.
set -eu

rounds=${ROUNDS:-3}
conns=${CONNS:-32}
duration=${DURATION:-5s}

for tool in wrk taskset go; do
	command -v "$tool" >/dev/null || { echo "wrk.sh: needs $tool" >&2; exit 2; }
done
[ "$(nproc)" -ge 2 ] || { echo "wrk.sh: needs two CPUs" >&2; exit 2; }

tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
go build -o "$tmp/bench" ./bench
GOMAXPROCS=1 taskset -c 0 "$tmp/bench" -serve >"$tmp/info" 2>"$tmp/err" &
pid=$!
i=0
until grep -q '^ready$' "$tmp/info"; do
	i=$((i + 1))
	if [ "$i" -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "wrk.sh: the gateway did not start:" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
	sleep 0.1
done
base=$(awk '$1 == "base" { print $2 }' "$tmp/info")

echo "latchkey behind wrk: gateway on CPU 0 (GOMAXPROCS 1), wrk -t1 -c$conns -d$duration on CPU 1, $rounds rounds"
echo
# One line per scenario and round: round name requests/s p50-ms p99-ms.
round=1
while [ "$round" -le "$rounds" ]; do
	grep '^scenario ' "$tmp/info" | while read -r _ name path header; do
		if [ -n "$header" ]; then
			taskset -c 1 wrk -t1 -c"$conns" -d"$duration" --latency -H "$header" "$base$path" >"$tmp/out"
		else
			taskset -c 1 wrk -t1 -c"$conns" -d"$duration" --latency "$base$path" >"$tmp/out"
		fi
		awk -v round="$round" -v name="$name" '
			function ms(v) {
				if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
				if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
				if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
				return v
			}
			$1 == "50%" { p50 = ms($2) }
			$1 == "99%" { p99 = ms($2) }
			$1 == "Requests/sec:" { rps = $2 }
			/Non-2xx/ { bad = $NF }
			END { printf "%d %s %.0f %.3f %.3f %d\n", round, name, rps, p50, p99, bad }
		' "$tmp/out"
	done
	round=$((round + 1))
done >"$tmp/results"

# Medians over the rounds; ratios and p99 added against auth-off of the same round.
awk '
	{ rps[$1, $2] = $3; p50[$1, $2] = $4; p99[$1, $2] = $5; bad[$2] += $6
	  if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }; if ($1 > rounds) rounds = $1 }
	function median(a, k,    i, j, t, m) {
		m = 0; for (i = 1; i <= rounds; i++) v[++m] = a[i, k]
		for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
	}
	END {
		printf "%-16s %11s %9s %9s %7s %10s %8s\n", "scenario", "requests/s", "p50 ms", "p99 ms", "ratio", "p99 added", "non-2xx"
		for (s = 1; s <= n; s++) {
			k = order[s]
			for (i = 1; i <= rounds; i++) { ratio[i, k] = rps[i, k] / rps[i, "auth-off"]; added[i, k] = p99[i, k] - p99[i, "auth-off"] }
			printf "%-16s %11.0f %9.3f %9.3f %7.3f %10.3f %8d\n", k, median(rps, k), median(p50, k), median(p99, k), median(ratio, k), median(added, k), bad[k]
		}
	}
' "$tmp/results"
