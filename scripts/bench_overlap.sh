#!/usr/bin/env bash
# The gradient all-reduce overlapped with the backward pass, or not, between two hosts on a network
# of a given speed: two network-namespace hosts on this machine (scripts/netns_hosts.sh), one rank of
# 1 thread each, each rank held to a core of its own (taskset) as on two machines, their link limited
# to RATE like a lab's Ethernet. Alternates one all-reduce after the backward pass
# (--allreduce-bucket-mb 0) with the default buckets started during it, so both see the same machine
# load. Needs root.
#
#   scripts/bench_overlap.sh [ROUNDS] [RATE] [simclr bench step options...]
#   ITERATIONS=6 scripts/bench_overlap.sh ...     timed steps per run (default 5)
#
# RATE is tc's (default 1gbit; e.g. 100mbit). The step is the SimCLR one at batch 256, by default
# the quarter-width ResNet-18 on 28x28 grayscale (pretraining's default for Fashion-MNIST), with
# BatchNorm synchronised across the ranks; add `--bn local` for per-rank statistics.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${1:-3}
rate=${2:-1gbit}
shift 2 || shift $# || true
network=("$@")
[ ${#network[@]} -gt 0 ] || network=(--arch resnet18 --stem cifar --width 0.25 --channels 1 --image-size 28)
swift build -c release --product simclr >/dev/null
simclr="$(swift build -c release --show-bin-path)/simclr"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export SIMCLR_NETNS_PREFIX=simclr-overlap SIMCLR_NETNS_SUBNET=10.213.9
hosts=scripts/netns_hosts.sh
"$hosts" up >/dev/null
trap '"$hosts" down >/dev/null 2>&1 || true' EXIT
"$hosts" limit 0 "$rate"
"$hosts" limit 1 "$rate"

# images/s and the share of the step spent communicating (gather, then waiting for the all-reduce),
# with extra bench step options.
step() {
    # Rank r runs on core r (the kernel's work for a rank's sends mostly runs there too).
    "$hosts" mpirun -np 2 --bind-to none sh -c 'exec taskset -c "$OMPI_COMM_WORLD_RANK" "$0" "$@"' \
        "$simclr" bench step --simclr "${network[@]}" --batch-size 256 \
        --threads 1 --iterations "${ITERATIONS:-5}" --warmup 1 "$@" --json 2>/dev/null | python3 -c "
import json, sys
for line in sys.stdin:
    if line.startswith('{'):
        r = json.loads(line)
        if r['mode'] == 'simclr': print(f\"{r['images_per_second']:.2f} {r['communication_share']:.4f}\")"
}

echo "two hosts, 1 rank x 1 thread each on its own core, link limited to $rate: ${network[*]}"
for round in $(seq "$rounds"); do
    read -r after after_comm < <(step --allreduce-bucket-mb 0)
    read -r overlapped overlapped_comm < <(step)
    python3 -c "print(f'round $round  after the backward pass {$after:7.2f} img/s ({100 * $after_comm:.1f}% communicating)  '
                      f'overlapped {$overlapped:7.2f} img/s ({100 * $overlapped_comm:.1f}%)  ratio {$overlapped / $after:5.2f}')"
done
