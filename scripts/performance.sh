#!/usr/bin/env bash
# Regenerates docs/performance.md, the project's one performance document: `simclr bench step`
# against the PyTorch reference (scripts/bench_compare.sh, both alternated in one run), then
# `simclr bench conv`. The document is written whole from this run; never edit it by hand.
#
#   scripts/performance.sh [ROUNDS]     rounds of the side-by-side comparison (default 3; each
#                                       round runs every configuration once on both sides)
#   CONV_ROUNDS=N scripts/performance.sh    rounds of bench conv (default 9)
#
# Needs PyTorch as bench_compare.sh says (python3 -m venv /tmp/torch-ref &&
# /tmp/torch-ref/bin/pip install torch torchvision; TORCH_PYTHON names another interpreter).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${1:-3}
conv_rounds=${CONV_ROUNDS:-9}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "performance: ROUNDS must be a positive whole number, not '$rounds'" >&2; exit 2; }
[[ "$conv_rounds" =~ ^[1-9][0-9]*$ ]] || { echo "performance: CONV_ROUNDS must be a positive whole number, not '$conv_rounds'" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

started=$(date -u +%s)
BENCH_RECORD="$work/steps.jsonl" scripts/bench_compare.sh "$rounds"
simclr="$(swift build -c release --show-bin-path)/simclr"
"$simclr" bench conv --json --iterations "$conv_rounds" > "$work/conv.jsonl"
commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- Sources Package.swift || commit="$commit with uncommitted changes to Sources"

mkdir -p docs
python3 scripts/performance_doc.py --steps "$work/steps.jsonl" --conv "$work/conv.jsonl" \
    --command "${CONV_ROUNDS:+CONV_ROUNDS=$CONV_ROUNDS }scripts/performance.sh $rounds" \
    --rounds "$rounds" --conv-rounds "$conv_rounds" --commit "$commit" \
    --minutes $(( ($(date -u +%s) - started + 59) / 60 )) > "$work/performance.md"
mv "$work/performance.md" docs/performance.md
echo "performance: wrote docs/performance.md" >&2
