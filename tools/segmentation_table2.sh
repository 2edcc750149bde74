#!/bin/sh
# The paper's Table 2 for semantic segmentation at 224²: pretrain ViT-Ti (patch 16) on Fashion-MNIST classes 0-4,
# finetune it end to end on the built-in scenes of classes 5-9 with every strategy, and print mIoU, pixel accuracy
# and the peak step memory per strategy; then the planner's largest image side per strategy within a budget.
#
#   tools/segmentation_table2.sh [BUILD_DIR] [WORK_DIR] [BUDGET]     (defaults: build, /tmp/dr2-seg-table2, 8GiB)
#
# Long (about an hour on 2 cores): a study, not a test. Every run is recorded in WORK_DIR/runs.sqlite, so the GUI's
# Runs page shows them side by side (dr2net --db WORK_DIR/runs.sqlite).
set -eu
build=$(cd "${1:-build}" && pwd)
work=${2:-/tmp/dr2-seg-table2}
budget=${3:-8GiB}
configs=$(cd "$(dirname "$0")/../resources/configs" && pwd)
cli="$build/app/cli/dr2net-cli"
mkdir -p "$work"
cd "$work"

if [ ! -f pretrained-fmnist-0-4-vit-p16.safetensors ]; then
    "$cli" pretrain --db runs.sqlite --config "$configs/pretrain-fmnist-0-4-vit-p16.json"
fi
for strategy in conventional checkpointed frozen reversible-scratch hard-finetune vanilla dr2net; do
    [ -f "$strategy.json" ] && grep -q '"event":"finished"' "$strategy.json" && continue
    "$cli" train --db runs.sqlite --json --config "$configs/segment-scenes-vit-dr2net.json" \
        --set name="segment-scenes-vit-$strategy" --set strategy="$strategy" > "$strategy.partial.json"
    mv "$strategy.partial.json" "$strategy.json"
done
"$cli" plan --config "$configs/segment-scenes-vit-dr2net.json" --budget "$budget" \
    --strategies conventional,checkpointed,dr2net --json > plan.json

python3 - "$budget" <<'PY'
import json, sys
def finished(path):
    for line in open(path):
        event = json.loads(line)
        if event.get("event") == "finished":
            return event
print(f"{'strategy':<20}{'mIoU':>8}{'best':>8}{'pixel acc':>11}{'peak step':>12}{'s/it':>8}")
for strategy in ["conventional", "checkpointed", "frozen", "reversible-scratch", "hard-finetune", "vanilla", "dr2net"]:
    e = finished(f"{strategy}.json")
    print(f"{strategy:<20}{100 * e['final_miou']:>7.1f}%{100 * e['best_miou']:>7.1f}%{100 * e['final_pixel_acc']:>10.1f}%"
          f"{e['peak_step_bytes'] / 2**20:>8.0f} MiB{e['seconds_per_iteration']:>8.2f}")
print(f"\nplanned largest image side within {sys.argv[1]} (batch of the config):")
plan = json.load(open("plan.json"))
for row in plan["strategies"]:
    step = row["predicted"]
    print(f"  {row['strategy']:<14}{row['largest_image']:>6}²   (at {plan['image']}²: step peak "
          f"{step['step_bytes'] / 2**20:.0f} MiB, total {step['peak_bytes'] / 2**20:.0f} MiB)")
PY
