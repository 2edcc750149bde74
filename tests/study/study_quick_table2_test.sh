#!/bin/sh
# The built-in paper-table2 study's quick profile, end to end as a user runs it (issue #17's check): its own
# pretraining, one finetune per strategy on real Fashion-MNIST, every run recorded; then the summary names every
# strategy row with a finished run, prints a verdict for every claim, and --list shows nothing left to run.
# Usage: study_quick_table2_test.sh CLI WORKDIR
set -eu
cli=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAILED: $*"; exit 1; }

"$cli" study --spec paper-table2 --quick --workers 2 --db runs.sqlite --dir study --out summary.md > run.txt 2>&1 \
    || fail "study --spec paper-table2 --quick: $(tail -20 run.txt)"
for level in "conventional" "checkpointed" "frozen" "hard-finetune" "reversible-scratch" "vanilla, one segment" \
             "vanilla, error-bounded segments" "dr2net"; do
    grep -q "^| $level | 1/1 | [0-9]" summary.md || fail "no finished row for '$level' in the summary: $(cat summary.md)"
done
# the spec's six claims, each with a verdict
[ "$(grep -c -E '\| \*\*(held|not held|undecided)\*\* \|$' summary.md)" -eq 6 ] \
    || fail "expected six claim verdicts: $(cat summary.md)"
# nothing left to run: every planned run is finished
"$cli" study --spec paper-table2 --quick --db runs.sqlite --dir study --list > list.txt 2>&1 || fail "--list: $(cat list.txt)"
if grep -q ' pending \| failed ' list.txt; then fail "runs left after the study: $(cat list.txt)"; fi
[ "$(grep -c ' finished ' list.txt)" -ge 8 ] || fail "expected at least 8 finished runs: $(cat list.txt)"
echo "study quick table2 OK"
