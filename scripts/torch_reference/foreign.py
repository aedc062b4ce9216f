"""Contention monitor for benchmarks on a machine shared with other work. For a timed region we record
foreign% = (whole-machine busy CPU time - this process's CPU time) / (wall * ncpu), so contaminated repeats are visible."""
import os, time, resource

def _sys_busy():
    with open('/proc/stat') as f:
        p = f.readline().split()
    u, n, s, i, w, irq, sirq, st = map(int, p[1:9])
    return (u + n + s + irq + sirq) / os.sysconf('SC_CLK_TCK')

def _self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

class Timer:
    def __enter__(self):
        self.b0, self.c0, self.t0 = _sys_busy(), _self_cpu(), time.perf_counter()
        return self
    def __exit__(self, *a):
        self.wall = time.perf_counter() - self.t0
        self.foreign = max(0.0, ((_sys_busy() - self.b0) - (_self_cpu() - self.c0)) / (self.wall * os.cpu_count()))

def wait_idle(max_wait=600, thr=0.05, need=3, interval=2.0):
    """Block until whole-machine busy < thr for `need` consecutive samples (or max_wait s). Returns seconds waited."""
    t0 = time.time(); ok = 0
    while time.time() - t0 < max_wait:
        b0, w0 = _sys_busy(), time.time(); time.sleep(interval)
        busy = (_sys_busy() - b0) / ((time.time() - w0) * os.cpu_count())
        ok = ok + 1 if busy < thr else 0
        if ok >= need:
            return time.time() - t0
    return -(time.time() - t0)

def stats(xs):
    xs = sorted(xs); n = len(xs)
    med = xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])
    return med, xs[0], xs[-1]

def clean_repeats(run, reps, max_tries, thr=0.05, idle_wait=90):
    """Call run() (does the timed work, returns units of work) until `reps` repeats had foreign CPU < thr
    (or max_tries). A contaminated repeat is discarded and we wait for the machine to go idle before retrying.
    Returns (accepted_rates, accepted_foreign, rejected[(rate, foreign)])."""
    acc, accf, rej = [], [], []
    tries = 0
    while len(acc) < reps and tries < max_tries:
        tries += 1
        with Timer() as t:
            units = run()
        rate = units / t.wall
        if t.foreign < thr:
            acc.append(rate); accf.append(round(100 * t.foreign, 1))
        else:
            rej.append((round(rate, 3), round(100 * t.foreign, 1)))
            wait_idle(idle_wait, need=2, interval=1.0)
    return acc, accf, rej
