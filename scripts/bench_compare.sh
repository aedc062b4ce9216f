#!/usr/bin/env bash
# Side-by-side throughput of simclr and the PyTorch reference (scripts/torch_reference), alternating the two
# in one run so both see the same machine load. Prints one line per configuration with the ratio and
# the peak resident memory of each side (PyTorch's process; ours as `bench step` reports it after the
# measured mode).
#
#   scripts/bench_compare.sh [ROUNDS]        (needs PyTorch: python3 -m venv /tmp/torch-ref &&
#                                             /tmp/torch-ref/bin/pip install torch torchvision;
#                                             TORCH_PYTHON names another interpreter)
#   BENCH_ONLY=SimCLR scripts/bench_compare.sh   only the configurations whose name contains this
#   BENCH_RECORD=FILE scripts/bench_compare.sh   also append each round's two JSON results to FILE
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reference="$root/scripts/torch_reference/bench_train.py"
python=${TORCH_PYTHON:-/tmp/torch-ref/bin/python}
rounds=${1:-2}
record=${BENCH_RECORD:+$(realpath -m "$BENCH_RECORD")}
[ -x "$python" ] || { echo "no PyTorch at $python (python3 -m venv /tmp/torch-ref && /tmp/torch-ref/bin/pip install torch torchvision)" >&2; exit 1; }
cd "$root"
swift build -c release --product simclr >/dev/null
simclr="$(swift build -c release --show-bin-path)/simclr"
# Peak resident memory of PyTorch's process (GNU time; getrusage's maxrss, as bench step reports ours).
rss=$(mktemp -d)
trap 'rm -rf "$rss"' EXIT

# name | simclr bench step arguments | bench_train.py arguments
configs=(
  "r18c forward b256|--arch resnet18 --stem cifar --image-size 32 --batch-size 256|--model r18c --mode fwd --batch 256 --in-ch 3 --size 32"
  "r18c supervised b256|--arch resnet18 --stem cifar --image-size 32 --batch-size 256|--model r18c --mode train --batch 256 --in-ch 3 --size 32"
  "r18c SimCLR b256|--arch resnet18 --stem cifar --image-size 32 --batch-size 256 --simclr|--model r18c --mode simclr --batch 256 --in-ch 3 --size 32"
  "r18c/2 1x28 SimCLR b256|--arch resnet18 --stem cifar --width 0.5 --channels 1 --image-size 28 --batch-size 256 --simclr|--model r18c_half --mode simclr --batch 256 --in-ch 1 --size 28"
  "r50 forward b16|--arch resnet50 --stem imagenet --image-size 224 --batch-size 16|--model r50 --mode fwd --batch 16 --in-ch 3 --size 224"
)
for config in "${configs[@]}"; do
  IFS='|' read -r name ours theirs <<<"$config"
  [[ "$name" == *"${BENCH_ONLY:-}"* ]] || continue
  mode=forward; case "$theirs" in *"--mode train"*) mode=train ;; *"--mode simclr"*) mode=simclr ;; esac
  for round in $(seq "$rounds"); do
    # Our peak is the one reported right after the measured mode: a forward row's process goes on
    # to a training step, which PyTorch's forward-only process does not run.
    ours_json=$("$simclr" bench step $ours --iterations 3 --warmup 1 --json | python3 -c "
import json,sys
for l in sys.stdin:
    if json.loads(l)['mode']=='$mode': print(l.strip())")
    # --keep-all: PyTorch's steps are timed as they come, under the same load as ours.
    theirs_json=$(/usr/bin/time -f %M -o "$rss/theirs" "$python" "$reference" $theirs --threads 2 --channels-last \
        --iters 3 --warmup 1 --keep-all | tail -1)
    python3 - "$name" "$round" "$ours_json" "$theirs_json" "$(tail -1 "$rss/theirs")" "$record" <<'PY'
import json, sys
name, round_, ours, theirs, theirs_kb, record = sys.argv[1:]
ours, theirs = json.loads(ours), json.loads(theirs)
a, b = ours['images_per_second'], theirs['img_per_s_median']
theirs_mb = int(theirs_kb) / 1024
print(f'{name:28s} round {round_}  simclr {a:8.2f} img/s  pytorch {b:8.2f} img/s  ratio {a / b:5.2f}'
      f'  peak RSS simclr {ours["peak_rss_mb"]:6.0f} MB  pytorch {theirs_mb:6.0f} MB')
if record:
    with open(record, 'a') as f:
        f.write(json.dumps(dict(name=name, round=int(round_), simclr=ours, pytorch=theirs, pytorch_peak_rss_mb=theirs_mb)) + '\n')
PY
  done
done
