#!/usr/bin/env bash
# Reproduces the README's results on Fashion-MNIST: every number there comes from a run of this
# script, never typed in. Each part is a folder under runs/results; a finished stage is not run
# again (the demo pipeline's rule), so the script can be stopped and started.
#
#   scripts/results.sh hour         SimCLR for about an hour on 2 cores (RESULTS_EPOCHS epochs),
#                                   then the demo's stages with 1% and 10% of the labels
#   scripts/results.sh ranks        the demo's pretraining on 1 rank and on 2 ranks (mpirun, one
#                                   machine), each judged by the linear probe and k-NN
#
# The tables go to runs/results/<part>/results.md, with the wall time of every stage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=${RESULTS_DATA:-/usr/share/datasets/fashion-mnist}
width=${RESULTS_WIDTH:-0.25}
out=runs/results
[ -d "$data" ] || { echo "results: $data is missing (apt-get install dataset-fashion-mnist)" >&2; exit 1; }

# Runs "$@" unless STAMP exists; then writes the wall seconds into STAMP.
timed() {
    local stamp=$1; shift
    [ -f "$stamp" ] && return 0
    local start; start=$(date +%s)
    "$@"
    echo $(( $(date +%s) - start )) > "$stamp"
}

# Pretraining into DIR/pretrain with the small-image defaults; extra launch options before the
# subcommand (e.g. --np 2) come from LAUNCH_OPTIONS.
pretrain() {
    local dir=$1 epochs=$2; shift 2
    local resume=()
    [ -f "$dir/pretrain/encoder.safetensors" ] && return 0
    [ -f "$dir/pretrain/checkpoints/last.safetensors" ] && resume=(--resume)
    [ ${#resume[@]} -eq 0 ] && rm -rf "$dir/pretrain"
    mkdir -p "$dir"
    rm -f "$dir/pretrain.seconds"
    # shellcheck disable=SC2086
    timed "$dir/pretrain.seconds" ./launch --local ${LAUNCH_OPTIONS:-} pretrain --data "$data" --arch resnet18 \
        --stem cifar --width "$width" --batch-size 256 --epochs "$epochs" --out "$dir/pretrain" "${resume[@]}"
}

seconds() { [ -f "$1" ] && printf '%d min %02d s' $(( $(cat "$1") / 60 )) $(( $(cat "$1") % 60 )) || printf -- '-'; }

case "${1:-}" in
hour)
    epochs=${RESULTS_EPOCHS:-12}
    dir=$out/hour
    pretrain "$dir" "$epochs"
    # The demo finds the encoder and runs the downstream stages and baselines beside it.
    timed "$dir/downstream.seconds" ./launch demo --data "$data" --out "$dir" --width "$width" \
        --epochs "$epochs" --label-fractions 0.01 0.1
    {
        echo "Pretraining: $epochs epochs, $(seconds "$dir/pretrain.seconds"); downstream stages and baselines: $(seconds "$dir/downstream.seconds")."
        echo
        cat "$dir/results.md"
    } > "$dir/summary.md"
    cat "$dir/summary.md"
    ;;
ranks)
    epochs=${RESULTS_EPOCHS:-1}
    for np in 1 2; do
        dir=$out/ranks-$np
        LAUNCH_OPTIONS="--np $np" pretrain "$dir" "$epochs"
        timed "$dir/linear.seconds" ./launch --local finetune --mode linear --optimizer lbfgs \
            --weights "$dir/pretrain/encoder.safetensors" --data "$data" --out "$dir/linear"
        timed "$dir/knn.seconds" ./launch --local knn --weights "$dir/pretrain/encoder.safetensors" \
            --data "$data" --out "$dir/knn"
    done
    python3 - "$out" "$epochs" > "$out/ranks.md" <<'EOF'
import json, sys
out, epochs = sys.argv[1:]
print("| ranks | pretraining | final loss (mean of the last 20 steps) | linear test accuracy | k-NN top-1 |")
print("|---|---|---|---|---|")
for np in (1, 2):
    d = f"{out}/ranks-{np}"
    rows = [json.loads(l) for l in open(f"{d}/pretrain/metrics.jsonl") if '"loss"' in l]
    loss = sum(r["loss"] for r in rows[-20:]) / len(rows[-20:])
    wall = int(open(f"{d}/pretrain.seconds").read())
    linear = json.load(open(f"{d}/linear/summary.json"))["test_accuracy"]
    knn = json.load(open(f"{d}/knn/summary.json"))
    top1 = knn.get("knn_top1", knn.get("top1"))
    print(f"| {np} | {epochs} epoch(s), {wall // 60} min {wall % 60:02d} s | {loss:.4f} | {100 * linear:.2f}% | {100 * top1:.2f}% |")
EOF
    cat "$out/ranks.md"
    ;;
*)
    echo "usage: scripts/results.sh hour|ranks" >&2
    exit 2
    ;;
esac
