#!/usr/bin/env bash
# The study behind the small-image defaults: short SimCLR pretrainings on Fashion-MNIST that differ
# in one setting each, every one judged by the linear probe (L-BFGS on the frozen encoder's
# features, all training labels, the test split). Each probe is a run folder under runs/study/NAME;
# a finished probe is not run again, so the script can be stopped and started. The table is
# appended to runs/study/results.md as each probe finishes.
#
#   scripts/study.sh                       every probe below
#   scripts/study.sh NAME [NAME...]        only these
#
# Every probe uses the same data, seed, batch size and number of epochs (STUDY_EPOCHS, default 1);
# what each one changes from the first row is in its flags.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=${STUDY_DATA:-/usr/share/datasets/fashion-mnist}
epochs=${STUDY_EPOCHS:-1}
out=${STUDY_OUT:-runs/study}
[ -d "$data" ] || { echo "study: $data is missing (apt-get install dataset-fashion-mnist)" >&2; exit 1; }

# name | pretrain flags (beside --arch resnet18 --stem cifar --batch-size 256 --epochs $epochs)
probes=(
    "lars-0.3|--width 0.25 --optimizer lars --lr 0.3 --temperature 0.5 --crop-scale 0.08 --strength 0.5"
    "lars-1.2|--width 0.25 --optimizer lars --lr 1.2 --temperature 0.5 --crop-scale 0.08 --strength 0.5"
    "crop-0.3|--width 0.25 --optimizer lars --lr 1.2 --temperature 0.5 --crop-scale 0.3 --strength 0.5"
    "temp-0.2|--width 0.25 --optimizer lars --lr 1.2 --temperature 0.2 --crop-scale 0.3 --strength 0.5"
    "adam-1e-3|--width 0.25 --optimizer adam --lr 1e-3 --weight-decay 0 --temperature 0.2 --crop-scale 0.3 --strength 0.5"
    "jitter-1.0|--width 0.25 --optimizer lars --lr 1.2 --temperature 0.2 --crop-scale 0.3 --strength 1.0"
    "jitter-1.0-t0.5|--width 0.25 --optimizer lars --lr 1.2 --temperature 0.5 --crop-scale 0.3 --strength 1.0"
    "width-0.5|--width 0.5 --optimizer lars --lr 1.2 --temperature 0.2 --crop-scale 0.3 --strength 1.0"
)

wanted=("$@")
mkdir -p "$out"
table="$out/results.md"
[ -f "$table" ] || printf '| probe | flags | epochs | final loss | linear test accuracy | pretraining wall time |\n|---|---|---|---|---|---|\n' > "$table"

# Pretrains probe NAME with FLAGS into DIR/pretrain, then fits the linear probe into DIR/linear.
probe_run() {
    local name=$1 flags=$2 dir=$3
    echo "study: $name ($flags)" >&2
    local resume=() start
    [ -f "$dir/pretrain/checkpoints/last.safetensors" ] && resume=(--resume)
    if [ ! -f "$dir/pretrain/encoder.safetensors" ]; then
        rm -rf "$dir/linear"
        [ ${#resume[@]} -eq 0 ] && rm -rf "$dir/pretrain"
        start=$(date +%s)
        # shellcheck disable=SC2086
        ./launch --local pretrain --data "$data" --arch resnet18 --stem cifar --batch-size 256 \
            --epochs "$epochs" $flags --out "$dir/pretrain" "${resume[@]}"
        echo $(( $(date +%s) - start )) > "$dir/pretrain/wall_seconds"
    fi
    ./launch --local finetune --mode linear --optimizer lbfgs --weights "$dir/pretrain/encoder.safetensors" \
        --data "$data" --out "$dir/linear"
}

# The table row of a finished probe.
probe_row() {
    python3 - "$3" "$1" "$2" "$epochs" <<'EOF'
import json, sys
d, name, flags, epochs = sys.argv[1:]
rows = [json.loads(l) for l in open(f"{d}/pretrain/metrics.jsonl") if '"loss"' in l]
acc = json.load(open(f"{d}/linear/summary.json"))["test_accuracy"]
wall = int(open(f"{d}/pretrain/wall_seconds").read())
loss = sum(r["loss"] for r in rows[-20:]) / len(rows[-20:])
print(f"| {name} | `{flags}` | {epochs} | {loss:.3f} | {100 * acc:.2f}% | {wall // 60} min {wall % 60} s |")
EOF
}

for probe in "${probes[@]}"; do
    name=${probe%%|*} flags=${probe#*|}
    if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then continue; fi
    dir="$out/$name"
    if [ ! -f "$dir/linear/summary.json" ]; then
        probe_run "$name" "$flags" "$dir"
    fi
    grep -q "^| $name |" "$table" || probe_row "$name" "$flags" "$dir" >> "$table"
done
