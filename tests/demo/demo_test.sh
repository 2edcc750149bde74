#!/bin/sh
# dr2net-cli demo end to end, as a user runs it: real Fashion-MNIST, real Trainer, real SQLite/HDF5 files.
# Usage: demo_test.sh CLI WORKDIR [SIZE_FLAG [WORKBENCH]]   (SIZE_FLAG: --tiny in ctest, --quick from
# packaging/test-deb.sh; WORKBENCH: the dr2net executable when it was built, so the report must be written)
set -eu
cli=$1 work=$2 size=${3:---tiny} workbench=${4:-}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAILED: $*"; exit 1; }

"$cli" demo "$size" --db runs.sqlite --out out > demo.txt 2> demo.err || fail "demo exited $?: $(cat demo.err)"
cat demo.txt

# The table: one row per strategy, with run id, top-1 in percent, memory in binary units, time per iteration.
for strategy in conventional vanilla dr2net; do
    row=$(grep -E "^ *$strategy +[0-9]+ +[0-9.]+ % +[0-9.]+ (B|KiB|MiB|GiB) +[0-9.]+ (ms|s)\$" demo.txt) \
        || fail "no table row for $strategy"
    top1=$(echo "$row" | awk '{print $3}')
    # Five classes: a finetuned model must beat chance (20 %) at least a little, and cannot exceed 100 %.
    awk -v t="$top1" 'BEGIN { exit !(t > 20 && t <= 100) }' || fail "$strategy top-1 $top1 % is not in (20, 100]"
done
# Reversible finetuning must not need more step memory than storing every activation (the point of the method).
mem() { grep -E "^ *$1 +[0-9]+ +[0-9.]+ %" demo.txt | awk '{ v = $5; u = $6; m = (u == "GiB") ? 1073741824 : (u == "MiB") ? 1048576 : (u == "KiB") ? 1024 : 1; printf "%.0f\n", v * m }'; }
[ "$(mem dr2net)" -lt "$(mem conventional)" ] || fail "dr2net peak step memory $(mem dr2net) not below conventional $(mem conventional)"

# Files: checkpoint, heatmap CSV (header + one line per grid point, finite values at beta = 1), export.
[ -s out/pretrained-fmnist-0-4.safetensors ] || fail "no pretrained checkpoint"
[ "$(head -1 out/heatmap-pretrained.csv)" = "alpha,beta,mse,max_abs,rel_l2,finite" ] || fail "heatmap CSV header"
[ "$(wc -l < out/heatmap-pretrained.csv)" -ge 5 ] || fail "heatmap CSV has too few points"
grep -q "^0,1,.*,1\$" out/heatmap-pretrained.csv || fail "heatmap lacks a finite (0, 1) point"
[ -s out/dr2net-fmnist-5-9.safetensors ] || fail "no exported checkpoint"
"$cli" inspect out/dr2net-fmnist-5-9.safetensors --json > inspect.json || fail "inspect of the export failed"
grep -q '"dr2net.strategy":"dr2net"' inspect.json || fail "export metadata lacks the strategy: $(cat inspect.json)"
grep -q '"dr2net.first_skip"' inspect.json || fail "export metadata lacks the first-skip mode"

# The database: five finished runs (pretrain, heatmap, three finetunes); the heatmap run has its CSV and HDF5.
list=$("$cli" runs list --db runs.sqlite --json)
[ "$(echo "$list" | grep -o '"status":"finished"' | wc -l)" -eq 5 ] || fail "expected 5 finished runs: $list"
"$cli" runs show demo-heatmap-pretrained --db runs.sqlite --json > heatmap.json || fail "no heatmap run"
grep -q '"kind":"csv"' heatmap.json || fail "heatmap CSV not recorded"
grep -q '"kind":"arrays"' heatmap.json || fail "heatmap HDF5 not recorded"
"$cli" runs show demo-finetune-fmnist-5-9-dr2net --db runs.sqlite --json | grep -q '"kind":"export"' \
    || fail "export not recorded on the dr2net run"
# The comparison report next to the table: written by the dr2net workbench when it exists (build tree or
# installed), else one line saying why not (the demo itself still succeeds).
grep -q "^comparison report: " demo.txt || fail "no comparison report line"
if grep -q "^comparison report: not written" demo.txt; then
    [ -z "$workbench" ] || fail "dr2net exists ($workbench) but: $(grep '^comparison report' demo.txt)"
    echo "no comparison report: $(grep '^comparison report' demo.txt)"
else
    html=out/demo-comparison.html
    grep -q "^comparison report: .*demo-comparison.html" demo.txt || fail "report line does not name $html"
    [ -s "$html" ] || fail "no $html"
    [ "$(head -c 15 "$html")" = "<!DOCTYPE html>" ] || fail "$html is not an HTML document"
    grep -q "</html>" "$html" || fail "$html is truncated"
    # Self-contained: the five figures (since issue 16 one is the parallel-coordinates view) embedded as PNG data URIs,
    # nothing fetched from elsewhere.
    [ "$(grep -o 'src="data:image/png;base64,' "$html" | wc -l)" -eq 5 ] || fail "$html lacks its 5 embedded figures"
    ! grep -qiE 'https?:|<link|<script|src="//' "$html" || fail "$html references external resources"
    for strategy in conventional vanilla dr2net; do
        grep -q "demo-finetune-fmnist-5-9-$strategy (#" "$html" || fail "$html does not name the $strategy run"
    done
    [ "$(head -c 5 out/demo-comparison.pdf)" = "%PDF-" ] || fail "no PDF comparison report"
fi
echo "demo OK"
