#!/usr/bin/python3
"""Python peer of `dr2net-cli bench`: the same ViT and Dr²Net stack written in PyTorch the usual way.

The peer is what a researcher would write in Python (timm-style branches, a RevViT-style reversible
autograd.Function), built to match our C++ engine exactly in shapes, branches, initialisation,
α/β equations (DESIGN.md, first skip y_0 = β·x_0), probe loss and thread settings, so that the
timing comparison asked for by issue 15 is between equal programs.

Modes:
  bench   (default) time the peer's plain and reversible training steps
  check   the peer's reversible gradients against its own autograd gradients of the same α/β network
  paired  alternate rounds of the peer and `dr2net-cli bench --json` at identical settings; print a table

Run with Debian's interpreter (python3-torch 1.13):  /usr/bin/python3 tools/peer_bench.py paired
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# torch is imported in main(), after OPENBLAS_NUM_THREADS / OMP_NUM_THREADS may have been set: OpenBLAS reads its
# thread count once, when the library is loaded.
torch = None
nn = None
F = None


def import_torch():
    """Imports torch into the module globals (after the environment has been prepared)."""
    global torch, nn, F
    try:
        import torch as _torch
        import torch.nn as _nn
        import torch.nn.functional as _F
    except ImportError as error:
        # 77: ctest's skip code, so the check test is skipped where Debian's python3-torch is not installed.
        print(f"peer_bench: PyTorch is needed ({error}); install Debian's python3-torch and run /usr/bin/python3",
              file=sys.stderr)
        sys.exit(77)
    torch, nn, F = _torch, _nn, _F


# --------------------------------------------------------------------------------------------------------------------
# The model: core/backbones/vit/vit.cpp, vit_branches.cpp, transformer_branches.cpp
# --------------------------------------------------------------------------------------------------------------------

def init_linear(linear):
    """Our initTransformerLinear: normal(0, 0.02) clipped to ±0.04 (timm's trunc_normal_(std=.02)), zero bias."""
    with torch.no_grad():
        nn.init.normal_(linear.weight, 0.0, 0.02).clamp_(-0.04, 0.04)
        if linear.bias is not None:
            nn.init.zeros_(linear.bias)


def make_modules():
    """Defines the module classes (after torch is imported)."""

    class AttentionBranch(nn.Module):
        """Pre-norm attention branch: norm → qkv → softmax(q kᵀ / √d) v → proj (timm's Attention)."""

        def __init__(self, dim, heads, qkv_bias=True, eps=1e-6):
            super().__init__()
            self.heads = heads
            self.scale = (dim // heads) ** -0.5
            self.norm = nn.LayerNorm(dim, eps=eps)
            self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
            self.proj = nn.Linear(dim, dim)
            init_linear(self.qkv)
            init_linear(self.proj)

        def forward(self, x):
            b, n, c = x.shape
            qkv = self.qkv(self.norm(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            attn = (q @ k.transpose(-2, -1)) * self.scale
            attn = attn.softmax(dim=-1)
            x = (attn @ v).transpose(1, 2).reshape(b, n, c)
            return self.proj(x)

    class MlpBranch(nn.Module):
        """Pre-norm MLP branch: norm → fc1 → GELU (erf) → fc2 (timm's Mlp)."""

        def __init__(self, dim, mlp_ratio=4.0, eps=1e-6):
            super().__init__()
            hidden = int(round(dim * mlp_ratio))
            self.norm = nn.LayerNorm(dim, eps=eps)
            self.fc1 = nn.Linear(dim, hidden)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(hidden, dim)
            init_linear(self.fc1)
            init_linear(self.fc2)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(self.norm(x))))

    class ReversibleStack(torch.autograd.Function):
        """Dr²Net eq. 1 forward without a graph; the backward reconstructs eq. 2 branch by branch (RevViT style:
        recompute F under enable_grad, torch.autograd.backward through it, reconstruct under no_grad)."""

        @staticmethod
        def forward(ctx, x, y, branches, alpha, beta, *params):
            for branch in branches:
                x, y = branch(x) + alpha * x + y, beta * x
            ctx.branches, ctx.alpha, ctx.beta = branches, alpha, beta
            ctx.save_for_backward(x.detach(), y.detach())
            return x, y

        @staticmethod
        def backward(ctx, gx, gy):
            x, y = ctx.saved_tensors
            alpha, beta = ctx.alpha, ctx.beta
            if gx is None:
                gx = torch.zeros_like(x)
            if gy is None:
                gy = torch.zeros_like(y)
            for branch in reversed(ctx.branches):
                with torch.no_grad():
                    x_prev = y / beta
                with torch.enable_grad():
                    x_in = x_prev.detach().requires_grad_(True)
                    f = branch(x_in)
                    torch.autograd.backward(f, gx)
                with torch.no_grad():
                    y_prev = x - f - alpha * x_prev
                    gx, gy = x_in.grad + alpha * gx + beta * gy, gx
                    x, y = x_prev, y_prev
                del f, x_in
            return (gx, gy, None, None, None) + (None,) * len(ctx.needs_input_grad[5:])

    class ViT(nn.Module):
        """Our ViTImpl for images with the classification task's head: patch embed, class token, learned positions,
        2·depth branches in one stack, final norm, class-token pooling, linear head."""

        def __init__(self, dim=192, depth=12, heads=3, patch=16, image=224, classes=10, mlp_ratio=4.0):
            super().__init__()
            tokens = 1 + (image // patch) ** 2
            self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos_embed = nn.Parameter(torch.zeros(1, tokens, dim))
            with torch.no_grad():
                # Class token first, then positions: the order our constructor draws in.
                nn.init.normal_(self.cls_token, 0.0, 1e-6)
                nn.init.normal_(self.pos_embed, 0.0, 0.02).clamp_(-0.04, 0.04)
            branches = []
            for _ in range(depth):
                branches += [AttentionBranch(dim, heads), MlpBranch(dim, mlp_ratio)]
            self.branches = nn.ModuleList(branches)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.head = nn.Linear(dim, classes)
            init_linear(self.head)
            self.mode = "plain"
            self.alpha, self.beta = 1.0, 0.0

        def embed(self, images):
            tokens = self.patch_embed(images).flatten(2).transpose(1, 2)
            tokens = torch.cat([self.cls_token.expand(images.shape[0], -1, -1), tokens], dim=1)
            return tokens + self.pos_embed

        def run_stack(self, x):
            """x_N under self.mode: plain (x + F(x)), stored (eq. 1 with autograd) or reversible."""
            if self.mode == "plain":
                for branch in self.branches:
                    x = x + branch(x)
                return x
            alpha, beta = self.alpha, self.beta
            y = beta * x  # our first skip: y_0 = β·x_0
            if self.mode == "stored":
                for branch in self.branches:
                    x, y = branch(x) + alpha * x + y, beta * x
                return x
            params = tuple(p for p in self.branches.parameters())
            x, _ = ReversibleStack.apply(x, y, list(self.branches), alpha, beta, *params)
            return x

        def forward(self, images):
            return self.head(self.norm(self.run_stack(self.embed(images)))[:, 0])

    return ViT


# --------------------------------------------------------------------------------------------------------------------
# Peer bench and check
# --------------------------------------------------------------------------------------------------------------------

def build_probe(args, dtype=None):
    """Model, input batch and labels as makeProbeSetup builds them (random weights from --seed, train mode)."""
    ViT = make_modules()
    torch.manual_seed(args.seed)
    model = ViT(depth=args.depth, image=args.image, patch=args.patch, classes=args.classes)
    model.train()
    gen = torch.Generator().manual_seed(args.seed)
    images = torch.randn(args.batch, 3, args.image, args.image, generator=gen)
    labels = torch.randint(0, args.classes, (args.batch,), generator=gen)
    if dtype is not None:
        model.to(dtype)
        images = images.to(dtype)
    return model, images, labels


def time_steps(model, images, labels, mode, alpha, beta, warmup, repeats):
    """Median and min seconds of `repeats` training steps (forward, probe loss, backward) after `warmup` steps,
    gradients zeroed in place between steps and outside the timing, as profileTrainingStep does."""
    model.mode, model.alpha, model.beta = mode, alpha, beta

    def step():
        loss = F.cross_entropy(model(images), labels)
        loss.backward()

    for _ in range(max(warmup, 1)):
        step()
    seconds = []
    for _ in range(repeats):
        model.zero_grad(set_to_none=False)
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), min(seconds)


def gradients(model, images, labels, mode, alpha, beta):
    """Gradients of the probe loss w.r.t. every parameter, and the input tokens' gradient, under `mode`."""
    model.mode, model.alpha, model.beta = mode, alpha, beta
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(images), labels).backward()
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}


def run_check(args):
    """The peer's reversible gradients against its own stored (autograd) gradients of the same α/β network.

    Reconstruction error grows with α and 1/β and compounds with depth (DESIGN.md), so the check runs in float64,
    where it measures the implementation rather than float32 cancellation. Returns 0 when every case passes."""
    cases = [(args.check_alpha, args.check_beta, args.depth), (args.alpha, args.beta, args.check_shallow_depth)]
    failed = 0
    for alpha, beta, depth in cases:
        sub = argparse.Namespace(**vars(args))
        sub.depth = depth
        model, images, labels = build_probe(sub, dtype=torch.float64)
        ref = gradients(model, images, labels, "stored", alpha, beta)
        rev = gradients(model, images, labels, "reversible", alpha, beta)
        worst_name, worst = None, 0.0
        for name, g in ref.items():
            rel = (rev[name] - g).norm().item() / max(g.norm().item(), 1e-300)
            if rel > worst:
                worst_name, worst = name, rel
        ok = worst <= args.check_tolerance
        failed += not ok
        print(f"check alpha={alpha:g} beta={beta:g} depth={depth} float64: worst relative L2 gradient error "
              f"{worst:.3e} ({worst_name}), tolerance {args.check_tolerance:g}: {'ok' if ok else 'FAILED'}")
        # The plain mode is the conventional network: stored mode at α=1, β=0 must give its gradients exactly.
        plain = gradients(model, images, labels, "plain", 1.0, 0.0)
        stored = gradients(model, images, labels, "stored", 1.0, 0.0)
        diff = max((plain[n] - stored[n]).abs().max().item() for n in plain)
        ok = diff <= 1e-12
        failed += not ok
        print(f"check depth={depth}: plain vs stored at alpha=1 beta=0, max abs gradient difference {diff:.3e}: "
              f"{'ok' if ok else 'FAILED'}")
    return 1 if failed else 0


def peer_round(args, model, images, labels):
    """One round of the peer: plain, then reversible (the order our bench runs them)."""
    plain = time_steps(model, images, labels, "plain", 1.0, 0.0, args.warmup, args.repeats)
    rev = time_steps(model, images, labels, "reversible", args.alpha, args.beta, args.warmup, args.repeats)
    return {"plain": plain[0], "reversible": rev[0], "plain_min": plain[1], "reversible_min": rev[1]}


def ours_round(args):
    """One run of `dr2net-cli bench --json` with the same settings; median step seconds per mode."""
    command = [args.cli, "bench", "--json", "--model", "vit-ti", "--depths", str(args.depth),
               "--modes", "plain,reversible,reversible-overlap", "--batch", str(args.batch), "--image", str(args.image),
               "--patch", str(args.patch), "--classes", str(args.classes), "--threads", str(args.threads),
               "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--seed", str(args.seed),
               "--alpha", repr(args.alpha), "--beta", repr(args.beta)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    by_mode = {row["mode"]: row for row in rows}
    return {"plain": by_mode["plain"]["median_step_s"], "reversible": by_mode["reversible"]["median_step_s"],
            "overlap": by_mode["reversible-overlap"]["median_step_s"],
            "overlap_used": by_mode["reversible-overlap"]["recompute_overlap"],
            "plain_min": by_mode["plain"]["min_step_s"], "reversible_min": by_mode["reversible"]["min_step_s"],
            "threads": by_mode["plain"]["threads"], "command": " ".join(command)}


def cpu_seconds():
    """(CPU seconds all processes on this machine have used, CPU seconds this process and its waited-for children
    have used) since boot: their difference over a round is what something else ran meanwhile."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...: everything but idle and iowait is busy
    busy = sum(fields[:8]) - fields[3] - fields[4]
    own = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system + own.children_user + own.children_system


def make_row(label, ours, peer, other_cpu_s, wall_s):
    """A table row from our and the peer's seconds, with the CPU time other processes used during the round."""
    return {"round": label, "other_cpu_s": other_cpu_s, "wall_s": wall_s, "ours_plain_s": ours["plain"], "peer_plain_s": peer["plain"],
            "ours_rev_s": ours["reversible"], "peer_rev_s": peer["reversible"], "ours_revov_s": ours["overlap"],
            "plain_ours_over_peer": ours["plain"] / peer["plain"],
            "rev_ours_over_peer": ours["reversible"] / peer["reversible"],
            "revov_ours_over_peer": ours["overlap"] / peer["reversible"],
            "ours_rev_over_plain": ours["reversible"] / ours["plain"],
            "ours_revov_over_plain": ours["overlap"] / ours["plain"],
            "peer_rev_over_plain": peer["reversible"] / peer["plain"]}


def print_table(rows):
    """Prints the paired rows as an aligned text table."""
    columns = ["round", "other_cpu_s", "wall_s", "ours_plain_s", "peer_plain_s", "ours_rev_s", "ours_revov_s", "peer_rev_s",
               "plain_ours_over_peer", "rev_ours_over_peer", "revov_ours_over_peer", "ours_rev_over_plain",
               "ours_revov_over_plain", "peer_rev_over_plain"]
    titles = ["round", "other cpu", "wall", "ours plain", "peer plain", "ours rev", "ours rev-ov", "peer rev", "plain o/p",
              "rev o/p", "rev-ov o/p", "ours rev/plain", "ours rev-ov/plain", "peer rev/plain"]
    cells = [titles] + [[str(r[c]) if c == "round" else f"{r[c]:.3f}" for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))


def run_paired(args):
    """Alternates rounds of the peer and our CLI (who goes first alternates too) and prints per-round and median
    rows; the ratio columns of the median row are medians of the per-round ratios. "other cpu" is the CPU time
    other processes used during the round (of 2·wall on two cores): rounds with much of it are not clean."""
    model, images, labels = build_probe(args)
    rows = []
    for r in range(args.rounds):
        busy0, own0 = cpu_seconds()
        start = time.perf_counter()
        if r % 2 == 0:
            ours = ours_round(args)
            peer = peer_round(args, model, images, labels)
        else:
            peer = peer_round(args, model, images, labels)
            ours = ours_round(args)
        busy1, own1 = cpu_seconds()
        row = make_row(r + 1, ours, peer, max(0.0, (busy1 - busy0) - (own1 - own0)), time.perf_counter() - start)
        rows.append(row)
        print(f"round {r + 1}/{args.rounds}: ours plain {ours['plain']:.3f} s, rev {ours['reversible']:.3f} s, "
              f"rev-ov {ours['overlap']:.3f} s; "
              f"peer plain {peer['plain']:.3f} s, rev {peer['reversible']:.3f} s", file=sys.stderr, flush=True)
    median = {"round": "median"}
    for key in rows[0]:
        if key != "round":
            median[key] = statistics.median(row[key] for row in rows)
    spread = {"round": "max-min"}
    for key in rows[0]:
        if key != "round":
            spread[key] = max(row[key] for row in rows) - min(row[key] for row in rows)
    print(f"ViT-Ti {args.depth} layers, batch {args.batch}, {args.image}², patch {args.patch}, fp32, "
          f"alpha {args.alpha:g} beta {args.beta:g}, {args.threads} intra-op thread(s), "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {args.repeats} repeats per mode, "
          f"median step seconds per round; rev-ov: ours with the backward split over two threads (recompute, weight gradients) "
          f"({'used' if ours['overlap_used'] else 'NOT used: no spare core'})")
    print_table(rows + [median, spread])
    if args.json:
        meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "settings": settings(args),
                "cli_command": ours["command"], "torch": torch.__version__, "cpus": os.cpu_count()}
        with open(args.json, "w") as out:
            json.dump({"meta": meta, "rows": rows, "median": median, "spread": spread}, out, indent=1)
    return 0


def settings(args):
    """The settings both sides ran with, for the JSON output."""
    return {"depth": args.depth, "batch": args.batch, "image": args.image, "patch": args.patch,
            "classes": args.classes, "alpha": args.alpha, "beta": args.beta, "threads": args.threads,
            "repeats": args.repeats, "warmup": args.warmup, "seed": args.seed,
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def run_bench(args):
    """Times the peer alone and prints one JSON object per mode (the fields of our bench's rows)."""
    model, images, labels = build_probe(args)
    peer = peer_round(args, model, images, labels)
    for mode in ("plain", "reversible"):
        row = dict(settings(args), mode=mode, median_step_s=peer[mode], min_step_s=peer[mode + "_min"])
        print(json.dumps(row))
    return 0


def parse_args(argv):
    """Command line: one positional mode and the shared settings (defaults: our bench's ViT-Ti row)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="bench", choices=["bench", "check", "paired"])
    parser.add_argument("--check", action="store_true", help="same as the 'check' command")
    parser.add_argument("--runner", action="store_true", help="same as the 'paired' command")
    parser.add_argument("--cli", default="build/app/cli/dr2net-cli", help="path to dr2net-cli (paired)")
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds")
    parser.add_argument("--depth", type=int, default=12, help="ViT layers (2·depth branches)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--image", type=int, default=224)
    parser.add_argument("--patch", type=int, default=16)
    parser.add_argument("--classes", type=int, default=10, help="classes of the probe head (our --classes default)")
    parser.add_argument("--alpha", type=float, default=1.0, help="reversible α (our bench's default)")
    parser.add_argument("--beta", type=float, default=0.1, help="reversible β (our bench's default)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads on both sides (torch.set_num_threads "
                        "here, --threads for dr2net-cli)")
    parser.add_argument("--blas-threads", type=int, default=0,
                        help="sets OPENBLAS_NUM_THREADS for both sides (0: leave the environment as it is)")
    parser.add_argument("--repeats", type=int, default=5, help="measured steps per mode and round (median)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="paired: write the rows to FILE")
    parser.add_argument("--check-alpha", type=float, default=0.3, help="check: α of the full-depth case")
    parser.add_argument("--check-beta", type=float, default=0.7, help="check: β of the full-depth case")
    parser.add_argument("--check-shallow-depth", type=int, default=2,
                        help="check: depth of the case at the bench's α/β (ill-conditioned when α=1, β=0.1)")
    parser.add_argument("--check-tolerance", type=float, default=1e-8,
                        help="check: largest relative L2 error of any parameter gradient, float64")
    args = parser.parse_args(argv)
    if args.check:
        args.command = "check"
    if args.runner:
        args.command = "paired"
    return args


def main(argv=None):
    """Prepares the thread environment, imports torch and runs the chosen command."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.blas_threads > 0:
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    import_torch()
    # Our CLI calls torch::set_num_threads(--threads) when it is positive and leaves OpenBLAS to its environment;
    # the peer does the same, and the child process inherits this environment.
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.command == "check":
        return run_check(args)
    if args.command == "paired":
        return run_paired(args)
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
