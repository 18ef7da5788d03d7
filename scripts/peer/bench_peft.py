#!/usr/bin/env python3
"""Peer benchmark for Tessera: LoRA training tokens/s of transformers + PEFT on CPU (SmolLM2-135M GGUF).

  python scripts/peer/bench_peft.py --gguf models/SmolLM2-135M-Instruct.Q4_1.gguf --threads 1
  python scripts/peer/bench_peft.py --gguf ... --quant nf4 --double-quant          # bitsandbytes NF4 base (QLoRA)
  OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node 2 scripts/peer/bench_peft.py --gguf ... --threads 1

A timed step is forward + backward + AdamW step + zero_grad on --batch x --seq random token ids per process
(labels = inputs, mean next-token cross-entropy). Rank 0 prints one JSON line, and appends it to --out if given.
After the timed steps, one more untimed step runs under oneDNN verbose and torch.profiler (unless --no-kernels):
the JSON line then names the oneDNN primitives that executed ("onednn_primitives") and the top ops by self CPU time.
See scripts/peer/README.md.
"""
import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import warnings

# transformers and peft emit deprecation chatter on import; the JSON line must stay easy to find in the log.
warnings.filterwarnings("ignore", category=FutureWarning)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gguf", default=os.environ.get("SMOLLM2_GGUF"),
                   help="SmolLM2-135M-Instruct GGUF file (default: $SMOLLM2_GGUF)")
    p.add_argument("--quant", choices=["none", "nf4"], default="none",
                   help="base weights: none = fp32, nf4 = bitsandbytes 4-bit NF4")
    p.add_argument("--double-quant", action="store_true", help="with nf4: also quantize the scales (compress_statistics)")
    p.add_argument("--autocast", choices=["none", "bf16"], default="none",
                   help="bf16: run forward and loss under torch.autocast('cpu', bfloat16)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads per process")
    p.add_argument("--batch", type=int, default=4, help="sequences per process per step")
    p.add_argument("--seq", type=int, default=256, help="tokens per sequence")
    p.add_argument("--r", type=int, default=16, help="LoRA rank")
    p.add_argument("--alpha", type=float, default=None, help="lora_alpha (default 2 * r)")
    p.add_argument("--targets", default="q_proj,v_proj", help="comma-separated module names, or all-linear")
    p.add_argument("--lr", type=float, default=2e-4, help="AdamW learning rate")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before the timed ones")
    p.add_argument("--steps", type=int, default=5, help="timed steps")
    p.add_argument("--seed", type=int, default=1000, help="seed of the token ids (plus the rank) and LoRA init")
    p.add_argument("--cache-dir", default=None,
                   help="folder for the fp32 safetensors copy of the GGUF (default: one in the system temp dir, "
                        "named after the GGUF's name, size and mtime)")
    p.add_argument("--kernels", action=argparse.BooleanOptionalAction, default=True,
                   help="after the timed steps, run one untimed step under oneDNN verbose and torch.profiler and "
                        "report which oneDNN primitives ran and the top ops by self CPU time (default: on)")
    p.add_argument("--kernels-log", default=None,
                   help="with --kernels: also write oneDNN's raw verbose output of that step to this file")
    p.add_argument("--out", default=None, help="append the JSON line to this file")
    p.add_argument("--tag", default="", help="free text copied into the JSON line")
    a = p.parse_args()
    if not a.gguf or not os.path.isfile(a.gguf):
        p.error("--gguf PATH (or SMOLLM2_GGUF) must name the SmolLM2-135M-Instruct GGUF file")
    if a.steps < 1 or a.warmup < 0 or a.batch < 1 or a.seq < 2 or a.threads < 1 or a.r < 1:
        p.error("need --steps >= 1, --warmup >= 0, --batch >= 1, --seq >= 2, --threads >= 1, --r >= 1")
    if a.alpha is None:
        a.alpha = 2 * a.r
    return a


def fp32_dir(a):
    if a.cache_dir:
        return a.cache_dir
    # Name the default folder after the file so that a different or re-downloaded GGUF gets a fresh copy.
    st = os.stat(a.gguf)
    name = os.path.basename(a.gguf).rsplit(".", 1)[0]
    return os.path.join(tempfile.gettempdir(), f"peer-fp32-{name}-{st.st_size}-{int(st.st_mtime)}")


def make_fp32_copy(a, torch, dest):
    """Dequantize the GGUF once and keep it as fp32 safetensors. Two reasons: transformers' GGUF loader takes
    ~20 s per load against ~1 s for safetensors, and it refuses a GGUF file together with a BitsAndBytesConfig,
    so NF4 must start from a plain checkpoint anyway."""
    if os.path.isfile(os.path.join(dest, "model.safetensors")):
        return
    from transformers import AutoModelForCausalLM
    gguf = os.path.abspath(a.gguf)
    m = AutoModelForCausalLM.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf),
                                             dtype=torch.float32)
    # The weights are already plain fp32 tensors; drop the GGUF quantizer marks or save_pretrained refuses.
    m.hf_quantizer = None
    if getattr(m.config, "quantization_config", None) is not None:
        del m.config.quantization_config
    # Write beside the destination, then rename, so a crash or a concurrent run never leaves a half-written copy.
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".fp32-", dir=parent)
    try:
        m.save_pretrained(tmp)
        if os.path.isdir(dest) and not os.listdir(dest):
            os.rmdir(dest)                      # an empty --cache-dir made by hand: fill it
        os.rename(tmp, dest)
    except OSError:
        if not os.path.isfile(os.path.join(dest, "model.safetensors")):
            raise                               # a real failure, not another process winning the race
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_base(a, torch, src):
    from transformers import AutoModelForCausalLM
    kw = {"dtype": torch.float32}
    if a.quant == "nf4":
        from transformers import BitsAndBytesConfig
        # fp32 compute dtype: the same arithmetic as the fp32 base, only the stored weights differ.
        kw["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                       bnb_4bit_compute_dtype=torch.float32,
                                                       bnb_4bit_use_double_quant=a.double_quant)
        kw["device_map"] = "cpu"                # without it bitsandbytes looks for an accelerator
    return AutoModelForCausalLM.from_pretrained(src, **kw)


def linear_module_types(model):
    # Shows which kernels actually run: 'Linear' for fp32, 'Linear4bit' when the NF4 path took effect.
    counts = {}
    for mod in model.modules():
        name = type(mod).__name__
        if "Linear" in name:
            counts[name] = counts.get(name, 0) + 1
    return counts


def rss_now_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:                             # not Linux
        pass
    return None


def peak_rss_mib():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in bytes on macOS and in KiB on Linux.
    return round(peak / 1048576 if sys.platform == "darwin" else peak / 1024, 1)


def parse_onednn_verbose(text):
    """Count oneDNN 'exec' lines by 'kind impl', e.g. {"matmul brg_matmul:avx10_1_512_amx": 84}, and by
    'kind impl problem' (the shapes, e.g. 1024x576:576x576). oneDNN 3.x prints
    onednn_verbose,[v1,][timestamp,]primitive,exec,cpu,<kind>,<impl>,<prop_kind>,<mds>,<attrs>,<aux>,<problem>,<ms>"""
    counts, shapes, version, isa = {}, {}, None, None
    for line in text.splitlines():
        if not line.startswith("onednn_verbose,"):
            continue
        f = line.strip().split(",")
        if "info" in f[:3] and len(f) > 3:
            rest = ",".join(f[f.index("info") + 1:])
            if rest.startswith("oneDNN v"):
                version = rest.split()[1]
            elif rest.startswith("cpu,isa:"):
                isa = rest[len("cpu,isa:"):]
            continue
        try:
            i = f.index("exec")
        except ValueError:
            continue
        if f[i - 1] not in ("primitive", "ukernel") or len(f) < i + 4:
            continue
        # f[i + 1] is the engine (cpu). A ukernel line (e.g. the brgemm calls inside torch's CPU flash attention)
        # names no implementation and no shapes: it counts as "ukernel brgemm".
        key = f"{f[i + 2]} {f[i + 3]}" if f[i - 1] == "primitive" else f"ukernel {f[i + 2]} {f[i + 3]}".rstrip()
        counts[key] = counts.get(key, 0) + 1
        if len(f) >= i + 9 and f[-2]:
            shape = f"{key} {f[-2]}"
            shapes[shape] = shapes.get(shape, 0) + 1
    by_count = lambda d: dict(sorted(d.items(), key=lambda kv: -kv[1]))
    return by_count(counts), by_count(shapes), version, isa


# Chatter that torch.profiler's CPU-only Kineto build writes to stderr on every profile; dropped from the log.
KINETO_NOISE = ("profiler_stop", "profiler_start", "gpuGetDeviceCount", "SyncActivityProfilerHandler")


def kernel_report(torch, step, top=8, log_path=None):
    """Run step() once with oneDNN verbose on and under torch.profiler. oneDNN prints with C stdio to fd 1, so fd 1
    goes to a temporary file for that step (and back afterwards); Python's own stdout is flushed around it. fd 2 is
    captured too, and written back without the profiler's start/stop chatter."""
    import ctypes
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    sys.stderr.flush()
    libc.fflush(None)
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile(mode="w+b") as out, tempfile.TemporaryFile(mode="w+b") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            # A torch built without oneDNN (mkldnn) has no verbose mode: then only the profiler reports.
            verbose = (torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON)
                       if torch.backends.mkldnn.is_available() else contextlib.nullcontext())
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                with verbose:
                    step()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            libc.fflush(None)                   # oneDNN's printf buffer, fully buffered while fd 1 is a file
            for fd, dup in saved.items():
                os.dup2(dup, fd)
                os.close(dup)
            err.seek(0)
            for line in err.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not any(n in line for n in KINETO_NOISE):
                    sys.stderr.write(line)
            sys.stderr.flush()
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if log_path:
        with open(log_path, "w") as f:
            f.write(text)
    prims, shapes, version, isa = parse_onednn_verbose(text)
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total_us = sum(e.self_cpu_time_total for e in ops)
    rep = {
        "onednn_primitives": prims,
        "onednn_top_shapes": dict(list(shapes.items())[:top]),
        "onednn_version": version,
        "onednn_isa": isa,
        # [name, self CPU ms, calls] over the profiled step; self times add up to profiled_step_ms.
        "top_ops": [[e.key, round(e.self_cpu_time_total / 1000, 1), e.count] for e in ops[:top]],
        "profiled_step_ms": round(total_us / 1000, 1),
    }
    if not torch.backends.mkldnn.is_available():
        rep["onednn_note"] = "this torch has no oneDNN (mkldnn): nothing to report"
    elif not prims:
        rep["onednn_note"] = ("no oneDNN primitive executed: the linears ran on the MKL/BLAS sgemm path "
                              "(aten::mm / aten::addmm), not oneDNN")
    return rep


def main():
    a = parse_args()
    import torch
    import transformers
    import peft
    from peft import LoraConfig, get_peft_model

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    torch.set_num_threads(a.threads)

    # torchrun sets WORLD_SIZE and RANK; a plain run is one process.
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    dist = None
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo")         # the CPU backend

    src = fp32_dir(a)
    t_load = time.perf_counter()
    if rank == 0:
        make_fp32_copy(a, torch, src)           # one writer; the other ranks wait at the barrier
    if dist:
        dist.barrier()
    model = load_base(a, torch, src)
    load_s = time.perf_counter() - t_load
    rss_after_load = rss_now_mib()
    linear_types = linear_module_types(model)

    torch.manual_seed(a.seed)                   # LoRA A init, so repeated runs follow the same losses
    targets = "all-linear" if a.targets == "all-linear" else [t for t in a.targets.split(",") if t]
    model = get_peft_model(model, LoraConfig(r=a.r, lora_alpha=a.alpha, target_modules=targets, lora_dropout=0.0,
                                             bias="none", task_type="CAUSAL_LM"))
    trainable, total = model.get_nb_trainable_parameters()
    model.train()
    net = model
    if dist:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model)    # averages the LoRA gradients across ranks in backward
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr)

    # Each rank draws its own ids (seed + rank), like data-parallel shards of a real data set.
    gen = torch.Generator().manual_seed(a.seed + rank)
    vocab = model.config.vocab_size
    use_bf16 = a.autocast == "bf16"

    def train_step():
        ids = torch.randint(0, vocab, (a.batch, a.seq), generator=gen)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            loss = net(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    for _ in range(a.warmup):                   # first steps allocate buffers and pick kernels: not timed
        train_step()
    if dist:
        dist.barrier()                          # start the timed steps together
    step_s, losses = [], []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(a.steps):
        t = time.perf_counter()
        losses.append(train_step())
        step_s.append(time.perf_counter() - t)
    wall = time.perf_counter() - wall0
    # CPU time / wall time: well under --threads means the cores were shared with something else.
    cores_used = (time.process_time() - cpu0) / wall if wall > 0 else None
    mean_s = statistics.mean(step_s)

    rec = {
        "tag": a.tag,
        "processes": world,
        "threads_per_process": a.threads,
        "quant": a.quant + ("+double_quant" if a.quant == "nf4" and a.double_quant else ""),
        "autocast": a.autocast,
        "batch_per_process": a.batch,
        "seq": a.seq,
        "r": a.r,
        "lora_alpha": a.alpha,
        "targets": a.targets,
        "trainable_params": trainable,
        "all_params": total,
        "warmup_steps": a.warmup,
        "timed_steps": a.steps,
        "step_s": [round(s, 4) for s in step_s],
        "step_s_mean": round(mean_s, 4),
        "step_s_median": round(statistics.median(step_s), 4),
        "tokens_per_s_per_process": round(a.batch * a.seq / mean_s, 1),
        "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)],
        "load_s": round(load_s, 2),
        "rss_after_load_MiB": rss_after_load,
        "peak_rss_MiB": peak_rss_mib(),
        "cpu_cores_used": None if cores_used is None else round(cores_used, 2),
        "linear_module_types": linear_types,
        "host": {"cpus": os.cpu_count(), "machine": platform.machine(), "system": platform.system()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "peft": peft.__version__},
    }
    if a.quant == "nf4":
        import bitsandbytes
        rec["versions"]["bitsandbytes"] = bitsandbytes.__version__

    if dist:
        # Every rank waits for the slowest one at each all-reduce, so the slowest mean sets the aggregate rate.
        mine = torch.tensor([mean_s, rec["peak_rss_MiB"] or 0.0, cores_used or 0.0], dtype=torch.float64)
        every = [torch.zeros_like(mine) for _ in range(world)]
        dist.all_gather(every, mine)
        means = [float(v[0]) for v in every]
        peaks = [float(v[1]) for v in every]
        rec["per_process_step_s_mean"] = [round(m, 4) for m in means]
        rec["per_process_peak_rss_MiB"] = [round(p, 1) for p in peaks]
        rec["sum_peak_rss_MiB"] = round(sum(peaks), 1)
        rec["total_cpu_cores_used"] = round(sum(float(v[2]) for v in every), 2)
        rec["tokens_per_s"] = round(world * a.batch * a.seq / max(means), 1)
    else:
        rec["tokens_per_s"] = rec["tokens_per_s_per_process"]

    if a.kernels:
        # Untimed, after the timing and the peak RSS above (the profiler's own memory must not count). Every rank
        # steps (DDP's all-reduce needs them all); rank 0's report goes into the line.
        rep = kernel_report(torch, train_step, log_path=a.kernels_log if rank == 0 else None)
        if rank == 0:
            rec.update(rep)

    if rank == 0:
        line = json.dumps(rec)
        print(line, flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(line + "\n")
    if dist:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
