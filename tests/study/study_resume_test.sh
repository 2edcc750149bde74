#!/bin/sh
# dr2net-cli study as a user runs it, killed and run again: the built-in specs expand, a killed study leaves no
# process behind, and the rerun trains only what is missing (finished runs skipped, the interrupted one resumed
# from its checkpoint in the same recorded run). Real Fashion-MNIST, real Trainer, real SQLite.
# Usage: study_resume_test.sh CLI SPEC WORKDIR
set -eu
cli=$1 spec=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAILED: $*"; exit 1; }
count() { grep -o "$1" "$2" | wc -l; }

# The built-in specs parse and expand, full and quick.
for name in paper-table2 paper-ablations; do
    for profile in "" --quick; do
        "$cli" study --spec $name $profile --list --db builtin.sqlite --dir "builtin-$name$profile" > list.txt \
            || fail "study --spec $name $profile --list: $(cat list.txt)"
        [ "$(grep -c ' pending ' list.txt)" -ge 3 ] || fail "$name $profile plans too few runs: $(cat list.txt)"
    done
done
# A spec that does not exist, and one that is broken, are refused in one line naming the problem.
if "$cli" study --spec no-such-study --db x.sqlite > bad.txt 2>&1; then fail "an unknown study ran"; fi
grep -q "no built-in study of that name (built-in: paper-ablations, paper-table2" bad.txt || fail "unknown study message: $(cat bad.txt)"
printf '{ "name": "broken", "base": { "config": {} }, "groups": [ { "name": "s", "levels": ["dr2net"] } ] }' > broken.json
if "$cli" study --spec broken.json --db x.sqlite > bad.txt 2>&1; then fail "a broken spec ran"; fi
grep -q 'groups\[0\].levels\[0\]: a bare value needs the group' bad.txt || fail "broken spec message: $(cat bad.txt)"

# Start the study; kill it (SIGKILL: no chance to clean up) once one finetune has finished and another has
# passed a checkpoint.
"$cli" study --spec "$spec" --db runs.sqlite --dir study --json > first.jsonl 2> first.err &
runner=$!
waited=0
while :; do
    finished=$(count '"event":"run_finished","key":"[0-9a-f]*","label":"strategy[^"]*","outcome":"finished"' first.jsonl)
    if [ "$finished" -ge 1 ]; then
        # the run going now: the last one started
        key=$(grep -o '"event":"run_started","key":"[0-9a-f]*"' first.jsonl | tail -1 | sed 's/.*"key":"//; s/"//')
        if [ -f "study/runs/$key/checkpoint/last.pt" ] \
            && ! grep -q "\"event\":\"run_finished\",\"key\":\"$key\"" first.jsonl; then
            break
        fi
    fi
    kill -0 $runner 2> /dev/null || fail "the study ended before it could be killed: $(cat first.err)"
    waited=$((waited + 1))
    [ $waited -lt 600 ] || fail "no checkpointed run after 300 s: $(tail -5 first.jsonl)"
    sleep 0.5
done
kill -9 $runner
wait $runner 2> /dev/null || true
sleep 2
# Its children die with it (PDEATHSIG), so nothing keeps training or writing.
if pgrep -f "train --config $work/study/runs" > /dev/null; then fail "a run outlived the killed study"; fi
interrupted_id=$(grep -o "\"event\":\"run_recording\",\"key\":\"$key\",\"run_id\":[0-9]*" first.jsonl | sed 's/.*://')
done_before=$(count '"outcome":"finished"' first.jsonl)
echo "killed the study during run $key (run $interrupted_id); $done_before runs had finished (pretraining included)"

"$cli" study --spec "$spec" --db runs.sqlite --dir study --list > states.txt
cat states.txt
grep -q "^ *$key  *$interrupted_id  *resumable " states.txt || fail "the killed run is not resumable"

# Run it again: only what is missing, the killed run continuing in its own record.
"$cli" study --spec "$spec" --db runs.sqlite --dir study --json --out summary.json > second.jsonl 2> second.err \
    || fail "the rerun exited $?: $(cat second.err)"
grep -q "\"event\":\"run_started\",\"key\":\"$key\",\"label\":\"[^\"]*\",\"resume\":true" second.jsonl \
    || fail "the killed run was not resumed: $(grep run_started second.jsonl)"
grep -q '"key":"pretrain"' second.jsonl && fail "the finished pretraining ran again"
for finished_key in $(grep -o '"event":"run_finished","key":"[0-9a-f]*","label":"[^"]*","outcome":"finished"' first.jsonl \
    | sed 's/.*"key":"//; s/".*//'); do
    if grep -q "\"event\":\"run_started\",\"key\":\"$finished_key\"" second.jsonl; then
        fail "finished run $finished_key ran again"
    fi
done
grep -q "\"event\":\"run_recording\",\"key\":\"$key\",\"run_id\":$interrupted_id}" second.jsonl \
    || fail "the resumed run is not run $interrupted_id: $(grep run_recording second.jsonl)"
grep -q '"start_iteration":[1-9]' "study/runs/$key/log" || fail "the resumed run started again at iteration 0"
[ "$(count '"outcome":"finished"' second.jsonl)" -eq $((7 - done_before)) ] \
    || fail "expected $((7 - done_before)) runs in the rerun: $(grep run_finished second.jsonl)"

# Every run finished and counted once; the summary has the table and both claims decided.
grep -q '"finished_runs": 6' summary.json || fail "summary does not count 6 finished runs: $(cat summary.json)"
[ "$(count '"verdict": "held"' summary.json)" -eq 2 ] || fail "expected both claims held: $(cat summary.json)"
"$cli" study --spec "$spec" --db runs.sqlite --dir study --report > report.md
grep -q "| dr2net | 2/2 |" report.md || fail "report lacks the dr2net row: $(cat report.md)"
echo "study resume OK"
