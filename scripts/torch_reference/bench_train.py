"""PyTorch CPU training/inference throughput (images/s): the reference `simclr bench step` is compared with
(scripts/bench_compare.sh). One config per invocation; prints a JSON line. Needs torch and torchvision, e.g.
    python3 -m venv /tmp/torch-ref && /tmp/torch-ref/bin/pip install torch torchvision
Usage: python scripts/torch_reference/bench_train.py --model {r18c,r18c_half,r50,tv:NAME} --mode {fwd,train,simclr} --threads T --batch B
                                                        --in-ch C --size S [--channels-last] [--bf16] [--warmup 2] [--iters 5] [--keep-all]
tv:NAME: any torchvision classification model by name, e.g. tv:resnet50, tv:vgg13, tv:inception_v3 (size 299),
         tv:vit_b_32, tv:swin_t (size 224), with 1000 classes and random weights.
--bf16 : the step runs under torch.autocast("cpu", dtype=torch.bfloat16) (PyTorch's CPU mixed precision).
fwd    : model.eval(), torch.no_grad() forward of B images.
train  : model.train(), forward + cross-entropy + backward + SGD(momentum .9, wd 5e-4) step on B images.
simclr : encoder + 2-layer MLP head (feat->512->128), two views per image -> one forward of 2B views,
         NT-Xent (T=0.5), backward, SGD step. images/s counts images (=B per step), views/s = 2x.
Inputs are fixed random tensors (augmentation/data loading excluded; measured separately).
Timing: --warmup untimed steps, then steps are timed one by one until --iters clean steps (other processes used < 5% of
the machine's CPU during the step); contaminated steps are listed in rejected_img_per_s_foreign_pct and discarded.
--keep-all: every timed step counts, whatever else ran (foreign_pct still says how much), for a side-by-side run
         where the other side's steps are timed as they come too."""
import argparse, json, time, torch, torch.nn as nn, torch.nn.functional as F, torchvision
from models import ResNet18CIFAR, SimCLR, nt_xent
from foreign import Timer, stats, clean_repeats
p = argparse.ArgumentParser()
p.add_argument('--model', required=True); p.add_argument('--mode', required=True)
p.add_argument('--threads', type=int, default=2); p.add_argument('--batch', type=int, default=256)
p.add_argument('--in-ch', type=int, default=3); p.add_argument('--size', type=int, default=32)
p.add_argument('--channels-last', action='store_true'); p.add_argument('--bf16', action='store_true'); p.add_argument('--warmup', type=int, default=2)
p.add_argument('--iters', type=int, default=5); p.add_argument('--max-tries', type=int, default=12)
p.add_argument('--keep-all', action='store_true')
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(0)
ncls = 1000 if a.model == 'r50' or a.model.startswith('tv:') else 10
if a.model == 'r18c': enc = ResNet18CIFAR(a.in_ch, (64, 128, 256, 512), ncls)
elif a.model == 'r18c_half': enc = ResNet18CIFAR(a.in_ch, (32, 64, 128, 256), ncls)
elif a.model == 'r50': enc = torchvision.models.resnet50(weights=None)
elif a.model.startswith('tv:'):
    name = a.model[3:]
    kw = dict(aux_logits=False, init_weights=True) if name == 'inception_v3' else {}
    enc = torchvision.models.get_model(name, weights=None, **kw)
if a.mode == 'simclr':
    if a.model == 'r50': fd = enc.fc.in_features; enc.fc = nn.Identity()
    elif a.model.startswith('tv:'): fd = 1000   # the head takes the model's 1000-d output
    else: fd = enc.feat_dim; enc.fc = nn.Identity()
    model = SimCLR(enc, fd, 512, 128)
else:
    model = enc
mf = torch.channels_last if a.channels_last else torch.contiguous_format
model = model.to(memory_format=mf)
nin = 2 * a.batch if a.mode == 'simclr' else a.batch
x = torch.randn(nin, a.in_ch, a.size, a.size).to(memory_format=mf)
y = torch.randint(0, ncls, (a.batch,))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
import contextlib
def autocast():
    return torch.autocast('cpu', dtype=torch.bfloat16) if a.bf16 else contextlib.nullcontext()
def step():
    with autocast(): _step()
def _step():
    if a.mode == 'fwd':
        with torch.no_grad(): model(x)
    elif a.mode == 'train':
        opt.zero_grad(set_to_none=True); loss = F.cross_entropy(model(x), y); loss.backward(); opt.step()
    else:
        opt.zero_grad(set_to_none=True); loss = nt_xent(model(x), 0.5); loss.backward(); opt.step()
model.train(a.mode != 'fwd')
for _ in range(a.warmup): step()
def run():
    step(); return a.batch
ips, foreign, rej = clean_repeats(run, a.iters, a.max_tries, thr=float('inf') if a.keep_all else 0.05)
times = [a.batch / v for v in ips]
med, lo, hi = stats(ips) if ips else (float('nan'),) * 3
print(json.dumps(dict(model=a.model, mode=a.mode, threads=a.threads, batch=a.batch, in_ch=a.in_ch, size=a.size,
      channels_last=a.channels_last, bf16=a.bf16, mkldnn=torch.backends.mkldnn.enabled, step_s=[round(s, 4) for s in times],
      img_per_s_median=round(med, 2), img_per_s_min=round(lo, 2), img_per_s_max=round(hi, 2), foreign_pct=foreign, rejected_img_per_s_foreign_pct=rej,
      torch=torch.__version__)), flush=True)
