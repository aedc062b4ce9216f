#!/usr/bin/env bash
# One machine, two ways to use its 2 cores for the same SimCLR step (global batch 256): one rank
# with 2 compute threads, or 2 ranks under mpirun with 1 thread each (gathered NT-Xent, synchronised
# BatchNorm, gradient all-reduce). Alternates the two so both see the same machine load.
#
#   scripts/bench_ranks.sh [ROUNDS] [simclr bench step options...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${1:-3}
shift || true
network=("$@")
[ ${#network[@]} -gt 0 ] || network=(--arch resnet18 --stem cifar --width 0.5 --channels 1 --image-size 28)
swift build -c release --product simclr >/dev/null
simclr="$(swift build -c release --show-bin-path)/simclr"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# images/s and the share of the step spent communicating, from `bench step --json`.
field() { python3 -c "
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r['mode'] == 'simclr': print(f\"{r['images_per_second']:.2f} {r['communication_share']:.3f}\")"; }

for round in $(seq "$rounds"); do
    read -r one _ < <("$simclr" bench step --simclr "${network[@]}" --batch-size 256 --threads 2 \
        --iterations 3 --warmup 1 --json | field)
    read -r two comm < <(mpirun -np 2 --bind-to none --mca btl self,vader --mca mpi_yield_when_idle 1 \
        "$simclr" bench step --simclr "${network[@]}" --batch-size 256 --threads 1 \
        --iterations 3 --warmup 1 --json | field)
    python3 -c "print(f'round $round  1 rank x 2 threads {$one:7.2f} img/s  2 ranks x 1 thread {$two:7.2f} img/s  '
                      f'ratio {$two / $one:5.2f}  (2 ranks: {100 * $comm:.1f}% of the step communicating)')"
done
