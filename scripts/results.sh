#!/usr/bin/env bash
# Reproduces the README's results on Fashion-MNIST: every number there comes from a run of this
# script, never typed in. Each part is a folder under runs/results; a finished stage is not run
# again (the demo pipeline's rule), so the script can be stopped and started.
#
#   scripts/results.sh hour         SimCLR for about an hour on 2 cores (RESULTS_EPOCHS epochs at
#                                   RESULTS_WIDTH, default 7 at half width, on 2 ranks of 1 thread
#                                   unless LAUNCH_OPTIONS says otherwise), then the demo's stages
#                                   with 1% and 10% of the labels
#   scripts/results.sh demo         the demo with its defaults, then its pretraining again on 2
#                                   ranks (mpirun, one machine), judged by the same probe and k-NN
#
# The tables go to runs/results/<part>/results.md, with the wall time of every stage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=${RESULTS_DATA:-/usr/share/datasets/fashion-mnist}
# Half width for 7 epochs learns better features than quarter width for 15 in the same hour
# (README, Results: both are reproducible with RESULTS_WIDTH and RESULTS_EPOCHS).
width=${RESULTS_WIDTH:-0.5}
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
    epochs=${RESULTS_EPOCHS:-7}
    dir=$out/hour
    LAUNCH_OPTIONS=${LAUNCH_OPTIONS:---np 2} pretrain "$dir" "$epochs"
    # The demo finds the encoder and runs the downstream stages and baselines beside it.
    timed "$dir/downstream.seconds" ./launch demo --data "$data" --out "$dir" --width "$width" \
        --epochs "$epochs" --label-fractions 0.01 0.1
    {
        echo "Pretraining: $epochs epochs (\`./launch --local ${LAUNCH_OPTIONS:---np 2}\`), $(seconds "$dir/pretrain.seconds"); downstream stages and baselines: $(seconds "$dir/downstream.seconds")."
        echo
        cat "$dir/results.md"
    } > "$dir/summary.md"
    cat "$dir/summary.md"
    ;;
demo)
    # The demo as a newcomer runs it, then its pretraining again on 2 ranks (mpirun on this
    # machine, 1 thread each), judged by the same linear probe and k-NN.
    dir=$out/demo
    timed "$out/demo.seconds" ./launch demo --data "$data" --out "$dir"
    two=$out/demo-2-ranks
    # The same epochs and width as the demo's own pretraining.
    read -r epochs width < <(python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); print(c["epochs"], c["model"]["width"])' \
        "$dir/pretrain/config.json")
    LAUNCH_OPTIONS="--np 2" pretrain "$two" "$epochs"
    timed "$two/linear.seconds" ./launch --local finetune --mode linear --optimizer lbfgs \
        --weights "$two/pretrain/encoder.safetensors" --data "$data" --out "$two/linear"
    timed "$two/knn.seconds" ./launch --local knn --weights "$two/pretrain/encoder.safetensors" \
        --data "$data" --out "$two/knn"
    python3 - "$dir" "$two" > "$out/ranks.md" <<'EOF'
import json, sys
one, two = sys.argv[1:]
print("| ranks | final loss (mean of the last 20 steps) | linear test accuracy | k-NN top-1 |")
print("|---|---|---|---|")
for ranks, pretrain, linear, knn in ((1, f"{one}/pretrain", f"{one}/simclr-linear", f"{one}/simclr-knn"),
                                     (2, f"{two}/pretrain", f"{two}/linear", f"{two}/knn")):
    rows = [json.loads(l) for l in open(f"{pretrain}/metrics.jsonl") if '"loss"' in l]
    loss = sum(r["loss"] for r in rows[-20:]) / len(rows[-20:])
    accuracy = json.load(open(f"{linear}/summary.json"))["test_accuracy"]
    top1 = json.load(open(f"{knn}/summary.json"))["knn_top1"]
    print(f"| {ranks} | {loss:.4f} | {100 * accuracy:.2f}% | {100 * top1:.2f}% |")
EOF
    echo "The demo took $(seconds "$out/demo.seconds"); its pretraining on 2 ranks $(seconds "$two/pretrain.seconds")."
    cat "$dir/results.md" "$out/ranks.md"
    ;;
*)
    echo "usage: scripts/results.sh hour|demo" >&2
    exit 2
    ;;
esac
