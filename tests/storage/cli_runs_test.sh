#!/bin/sh
# dr2net-cli runs, as a user runs it, on a database left by a killed recorder.
# Usage: cli_runs_test.sh WRITER CLI WORKDIR
set -eu
writer=$1 cli=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAILED: $*"; exit 1; }

# A recorder killed mid-run (SIGKILL after 1 s).
timeout -s KILL 1 "$writer" record runs.sqlite run.h5 > writer.out || true
grep -q "^committed" writer.out || fail "the writer committed nothing"

"$cli" runs list --db runs.sqlite > list.txt
grep -q "interrupted" list.txt || fail "list does not show the run as interrupted: $(cat list.txt)"
"$cli" runs list --db runs.sqlite --json | grep -q '"status":"interrupted"' || fail "list --json"
"$cli" runs show 1 --db runs.sqlite --json | grep -q '"name":"a"' || fail "show --json lacks series a"
"$cli" runs show 1 --db runs.sqlite | grep -q "gradient-error probes" || fail "show lacks probes"

# export-csv: one line per iteration plus the header, written atomically, registered as an artifact.
"$cli" runs export-csv 1 --db runs.sqlite --out a.csv > /dev/null
iterations=$("$cli" runs list --db runs.sqlite --json | sed 's/.*"iterations":\([0-9]*\).*/\1/')
[ "$(wc -l < a.csv)" -eq $((iterations + 1)) ] || fail "a.csv has $(wc -l < a.csv) lines, expected $((iterations + 1))"
[ "$(head -1 a.csv)" = "iteration,a,b" ] || fail "header: $(head -1 a.csv)"
"$cli" runs show 1 --db runs.sqlite --json | grep -q '"kind":"csv"' || fail "csv artifact not recorded"

# Errors: one line on stderr, non-zero exit.
if "$cli" runs show 42 --db runs.sqlite 2> err.txt; then fail "show of a missing run succeeded"; fi
grep -q "run '42': no run with this id or name" err.txt || fail "message: $(cat err.txt)"
[ "$(wc -l < err.txt)" -eq 1 ] || fail "expected one line on stderr"
if "$cli" runs export-csv 1 --db runs.sqlite --out missing/dir/a.csv 2> err.txt; then fail "export into a missing directory"; fi
grep -q "ENOENT" err.txt || fail "message: $(cat err.txt)"

"$cli" runs delete 1 --db runs.sqlite --delete-files > /dev/null
[ ! -e run.h5 ] || fail "--delete-files kept run.h5"
[ "$("$cli" runs list --db runs.sqlite --json)" = "[]" ] || fail "the run is still listed"
echo "runs commands OK"
