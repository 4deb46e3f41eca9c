#!/usr/bin/env python3
"""Trains DiffusionLab's UNet prior with PyTorch on a GPU and exports weights the TorchSharp UNet loads.

The network below mirrors DiffusionLab.Engine/Priors/UNet.cs module by module: the same layers in
the same order under the same attribute names, so the state-dict keys and shapes are identical and
the safetensors file this script writes loads into the C# UNet with strict checking. The training
objective mirrors DdpmTrainer.cs: the DDPM ε-MSE with t ~ U{0..T-1}, Adam with a linear warm-up,
gradient clipping at 1, random horizontal mirroring and an EMA of the weights. With --classes the
network learns the categories in DATA/classes.tsv (classifier-free guidance: each sample's class is
replaced by "no class" with probability --class-dropout), as `DiffusionLab.Cli train --classes` does.

Training is bounded by wall-clock time rather than steps (a GPU lease is short): the EMA weights are
exported every --checkpoint-seconds and at the end, each time with
  <name>.safetensors            the EMA weights (F32, the C# state-dict names)
  <name>.training.json          what was trained how: config, schedule, steps, batch, rates, device
  <name>.reference.safetensors  a fixed input x, t and this network's ε on the CPU in float32, so
                                `DiffusionLab.Cli import` can check that TorchSharp computes the same ε.
Then `dotnet run --project DiffusionLab.Cli -- import ...` measures the held-out loss with the C#
code and writes models/<name>.json + .safetensors (see tools/gpu-train/README.md).

Needs only torch, numpy and Pillow; runs on a CPU too (slowly), which is how it is tested.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


# ---------------------------------------------------------------- the network (mirror of UNet.cs)

def choose_groups(groups, channels):
    """ResidualBlock.ChooseGroups: the largest group count ≤ groups that divides channels."""
    for g in range(groups, 1, -1):
        if channels % g == 0:
            return g
    return 1


def group_norm(groups, channels):
    return nn.GroupNorm(groups, channels, eps=1e-5)


def timestep_embedding(t, dim):
    half = dim // 2
    frequencies = torch.exp(torch.arange(half, dtype=torch.float32, device=t.device) * (-math.log(10000.0) / half))
    angles = t.to(torch.float32).unsqueeze(1) * frequencies.unsqueeze(0)
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], 1)
    if dim % 2 == 1:
        embedding = F.pad(embedding, [0, 1])
    return embedding


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout, embedding, groups, dropout):
        super().__init__()
        self.norm1 = group_norm(choose_groups(groups, cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(embedding, cout)
        self.norm2 = group_norm(groups, cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = None if cin == cout else nn.Conv2d(cin, cout, 1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        shortcut = x if self.skip is None else self.skip(x)
        return shortcut + h


class SelfAttention(nn.Module):
    def __init__(self, channels, groups, heads):
        super().__init__()
        self.heads = heads
        self.norm = group_norm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x):
        b, c, h, w = x.shape
        hc = c // self.heads
        q, k, v = self.qkv(self.norm(x)).reshape(b * self.heads, 3 * hc, h * w).chunk(3, 1)
        weights = torch.softmax(torch.matmul(q.transpose(1, 2), k) / math.sqrt(hc), -1)
        attended = torch.matmul(v, weights.transpose(1, 2)).reshape(b, c, h, w)
        return x + self.proj(attended)


class UNetBlock(nn.Module):
    """Attribute names (res, attn, res2, downsample, upsample) are the checkpoint's names."""

    def __init__(self, res=None, attn=None, res2=None, downsample=None, upsample=None):
        super().__init__()
        self.res, self.attn, self.res2, self.downsample, self.upsample = res, attn, res2, downsample, upsample

    def forward(self, x, emb):
        h = x
        if self.downsample is not None:
            h = self.downsample(h)
        if self.res is not None:
            h = self.res(h, emb)
        if self.attn is not None:
            h = self.attn(h)
        if self.res2 is not None:
            h = self.res2(h, emb)
        if self.upsample is not None:
            h = self.upsample(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return h


class UNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        b = cfg["baseChannels"]
        emb = 4 * b
        groups, dropout, heads = cfg["normGroups"], cfg["dropout"], cfg["attentionHeads"]
        attention = set(cfg["attentionResolutions"])
        mults = cfg["channelMultipliers"]
        blocks = cfg["resBlocksPerLevel"]

        def residual(cin, cout, resolution):
            return UNetBlock(res=ResidualBlock(cin, cout, emb, groups, dropout),
                             attn=SelfAttention(cout, groups, heads) if resolution in attention else None)

        self.time_in = nn.Linear(b, emb)
        self.time_out = nn.Linear(emb, emb)
        self.conv_in = nn.Conv2d(cfg["channels"], b, 3, padding=1)
        down, skips = [], [b]
        ch, res = b, cfg["imageSize"]
        for level, m in enumerate(mults):
            for _ in range(blocks):
                down.append(residual(ch, b * m, res))
                ch = b * m
                skips.append(ch)
            if level < len(mults) - 1:
                down.append(UNetBlock(downsample=nn.Conv2d(ch, ch, 3, stride=2, padding=1)))
                res //= 2
                skips.append(ch)
        self.down = nn.ModuleList(down)
        self.middle = UNetBlock(res=ResidualBlock(ch, ch, emb, groups, dropout), attn=SelfAttention(ch, groups, heads),
                                res2=ResidualBlock(ch, ch, emb, groups, dropout))
        up = []
        for level in range(len(mults) - 1, -1, -1):
            for i in range(blocks + 1):
                block = residual(ch + skips.pop(), b * mults[level], res)
                ch = b * mults[level]
                if level > 0 and i == blocks:
                    block.upsample = nn.Conv2d(ch, ch, 3, padding=1)
                    res *= 2
                up.append(block)
        self.up = nn.ModuleList(up)
        self.norm_out = group_norm(groups, ch)
        self.conv_out = nn.Conv2d(ch, cfg["channels"], 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        # A class-conditional network: one row per class plus a last one for "no class", added to the
        # time embedding and started at zero (UNet.cs, class_embedding).
        self.class_count = len(cfg.get("classNames") or [])
        if self.class_count:
            self.class_embedding = nn.Embedding(self.class_count + 1, emb)
            nn.init.zeros_(self.class_embedding.weight)

    def forward(self, x, t, classes=None):
        """ε(x_t, t), or ε(x_t, t, c) with classes int64 [B] (class_count meaning "no class"; None is "no class" for all)."""
        emb = self.time_out(F.silu(self.time_in(timestep_embedding(t, self.cfg["baseChannels"]))))
        if self.class_count:
            if classes is None:
                classes = torch.full((x.shape[0],), self.class_count, dtype=torch.int64, device=x.device)
            emb = emb + self.class_embedding(classes)
        elif classes is not None:
            raise ValueError("this network has no classes")
        h = self.conv_in(x)
        skips = [h]
        for block in self.down:
            h = block(h, emb)
            skips.append(h)
        h = self.middle(h, emb)
        for block in self.up:
            h = block(torch.cat([h, skips.pop()], 1), emb)
        return self.conv_out(F.silu(self.norm_out(h)))


# ---------------------------------------------------------------- safetensors without the package

def save_safetensors(tensors, path):
    """Writes F32 tensors in the safetensors layout: u64 header length, JSON header, raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    temporary = path + ".tmp"
    with open(temporary, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)
    os.replace(temporary, path)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    result = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {entry['dtype']}, only F32 is read")
        start, end = entry["data_offsets"]
        result[name] = torch.from_numpy(np.frombuffer(data[start:end], dtype="<f4").copy()).reshape(entry["shape"])
    return result


# ---------------------------------------------------------------- data, schedule, training

def image_names(folder, limit=None):
    """The image files of a folder in the order the C# ImageFolderDataset reads them (ordinal by name)."""
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".png", ".jpg", ".jpeg", ".webp")))
    if limit:
        names = names[:limit]
    if not names:
        raise SystemExit(f"{folder}: holds no PNG, JPEG or WebP images")
    return names


def read_classes(data):
    """DATA/classes.tsv as ImageClasses.cs reads it: {file stem: class name} and the class names in ordinal order."""
    path = os.path.join(data, "classes.tsv")
    if not os.path.isfile(path):
        raise SystemExit(f"{path}: no class list (tools/fetch-data.sh writes it for the emoji)")
    of_stem = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0] or not fields[1].strip():
                raise SystemExit(f"{path}, line {number}: expected 'file name<TAB>class', got '{line}'")
            if fields[0] in of_stem:
                raise SystemExit(f"{path}, line {number}: '{fields[0]}' is listed twice")
            of_stem[fields[0]] = fields[1].strip()
    # Python orders str by code point, .NET's ordinal comparer by UTF-16 unit: the same outside the astral planes.
    return of_stem, sorted(set(of_stem.values()))


def class_labels(folder, of_stem, class_names, limit=None):
    """Each image's class number (int64 [N]), in the order image_names gives."""
    number = {name: i for i, name in enumerate(class_names)}
    labels = []
    for name in image_names(folder, limit):
        stem = os.path.splitext(name)[0]
        if stem not in of_stem:
            raise SystemExit(f"{os.path.join(folder, name)} has no class in classes.tsv")
        labels.append(number[of_stem[stem]])
    return torch.tensor(labels, dtype=torch.int64)


def load_images(folder, size, limit=None):
    """PNG/JPEG/WebP files, sorted by name, flattened onto white, as float32 [N, 3, S, S] in [-1, 1]."""
    names = image_names(folder, limit)
    images = np.empty((len(names), size, size, 3), dtype=np.uint8)
    for i, name in enumerate(names):
        with Image.open(os.path.join(folder, name)) as image:
            rgba = image.convert("RGBA")
            if rgba.size != (size, size):
                rgba = rgba.resize((size, size), Image.BILINEAR)
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            images[i] = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def linear_alphas_cumprod(steps):
    """NoiseSchedule.Linear: β from 1e-4 to 0.02 (scaled by 1000/T), computed in float64 like the C# code."""
    scale = 1000.0 / steps
    betas = np.array([scale * 1e-4 + (scale * 0.02 - scale * 1e-4) * i / (steps - 1) for i in range(steps)])
    return torch.from_numpy(np.cumprod(1.0 - betas))


def ddpm_loss(model, x0, t, noise, alphas_cumprod, weighting="uniform", classes=None):
    """The ε-MSE; with weighting "p2" each sample's term counts 1 − ᾱ_t (DdpmTrainer.Loss, LossWeighting.P2)."""
    alpha_bar = alphas_cumprod[t].to(torch.float32)
    a = alpha_bar[:, None, None, None]
    xt = a.sqrt() * x0 + (1.0 - a).sqrt() * noise
    prediction = model(xt, t, classes)
    if weighting == "uniform":
        return F.mse_loss(prediction, noise)
    per_sample = F.mse_loss(prediction, noise, reduction="none").flatten(1).mean(1)
    return (per_sample * (1.0 - alpha_bar)).mean()


def export(ema, args, record, out):
    name = args.name
    save_safetensors(dict(ema.state_dict()), os.path.join(out, name + ".safetensors"))
    # A fixed probe for the C# side: float32 on the CPU, so TorchSharp's CPU kernels can match it closely.
    cpu = UNet(ema.cfg)
    cpu.load_state_dict({k: v.detach().cpu() for k, v in ema.state_dict().items()})
    cpu.eval()
    g = torch.Generator().manual_seed(7)
    x = torch.randn(4, ema.cfg["channels"], ema.cfg["imageSize"], ema.cfg["imageSize"], generator=g)
    t = torch.tensor([0, 250, 500, 999 if args.schedule_steps > 999 else args.schedule_steps - 1], dtype=torch.int64)
    probe = {"x": x, "t": t.to(torch.float32)}
    classes = None
    if cpu.class_count:
        # Classes 0 and 1, "no class" and the last class, so the embedding's every use is compared.
        n = cpu.class_count
        classes = torch.tensor([0, n, min(1, n - 1), n - 1], dtype=torch.int64)
        probe["classes"] = classes.to(torch.float32)
    with torch.no_grad():
        probe["epsilon"] = cpu(x, t, classes)
    save_safetensors(probe, os.path.join(out, name + ".reference.safetensors"))
    temporary = os.path.join(out, name + ".training.json.tmp")
    with open(temporary, "w") as f:
        json.dump(record, f, indent=2)
    os.replace(temporary, os.path.join(out, name + ".training.json"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="folder with train/ (and heldout/) images; not needed with --random-init --seconds 0")
    p.add_argument("--name", required=True, help="model name, e.g. pixel-faces-32")
    p.add_argument("--config", required=True, help="UNet configuration as JSON (the C# UNetConfig's camelCase fields)")
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=300, help="train for this long (wall clock), then export")
    p.add_argument("--max-steps", type=int, default=10**9)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--schedule-steps", type=int, default=1000)
    p.add_argument("--checkpoint-seconds", type=float, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-mirror", action="store_true")
    p.add_argument("--loss-weighting", choices=["uniform", "p2"], default="uniform",
                   help="p2: weigh each sample's ε-error by 1 - alpha_bar_t (perception-prioritised, Choi et al. 2022)")
    p.add_argument("--classes", action="store_true",
                   help="learn the categories in DATA/classes.tsv (class-conditional, for classifier-free guidance)")
    p.add_argument("--class-dropout", type=float, default=0.2,
                   help="with --classes: the share of samples trained as \"no class\" (the unconditional prior)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--random-init", action="store_true",
                   help="draw every weight at random (no zero-initialised layers): with --seconds 0 this makes a "
                        "cross-framework test fixture in which every layer changes the output")
    args = p.parse_args()

    started = time.time()
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    cfg = json.loads(args.config)
    if not 0.0 <= args.class_dropout <= 1.0:
        raise SystemExit(f"--class-dropout {args.class_dropout}: a share between 0 and 1")
    of_stem = None
    if args.classes:
        if args.data is None:
            raise SystemExit("--classes reads DATA/classes.tsv: give --data")
        of_stem, class_names = read_classes(args.data)
        if cfg.get("classNames") and cfg["classNames"] != class_names:
            raise SystemExit(f"the configuration's classes {cfg['classNames']} are not the data's {class_names}")
        cfg["classNames"] = class_names
    elif cfg.get("classNames") and args.data is not None and args.seconds > 0:
        raise SystemExit("the configuration names classes: add --classes to learn them from DATA/classes.tsv")
    cfg.setdefault("dropout", 0.0)
    cfg.setdefault("normGroups", 8)
    cfg.setdefault("attentionHeads", 1)
    os.makedirs(args.out, exist_ok=True)

    if args.data is None and args.seconds > 0:
        raise SystemExit("--data is needed to train (only --seconds 0 runs without data)")
    data = heldout = labels = heldout_labels = None
    if args.data is not None:
        train_folder = os.path.join(args.data, "train")
        train_folder = train_folder if os.path.isdir(train_folder) else args.data
        data = load_images(train_folder, cfg["imageSize"]).to(device)
        heldout_folder = os.path.join(args.data, "heldout")
        heldout = load_images(heldout_folder, cfg["imageSize"], limit=256).to(device) if os.path.isdir(heldout_folder) else None
        if of_stem is not None:
            labels = class_labels(train_folder, of_stem, cfg["classNames"]).to(device)
            if heldout is not None:
                heldout_labels = class_labels(heldout_folder, of_stem, cfg["classNames"], limit=256).to(device)
            print(f"classes ({len(cfg['classNames'])}, each dropped for {args.class_dropout:.0%} of samples): "
                  f"{', '.join(cfg['classNames'])}", flush=True)

    model = UNet(cfg).to(device)
    if args.random_init:
        with torch.no_grad():
            for name, q in model.named_parameters():
                is_norm_scale = name.split(".")[-2].startswith("norm") and name.endswith(".weight")
                q.copy_((1.0 if is_norm_scale else 0.0) + 0.3 * torch.randn_like(q))
    ema = UNet(cfg).to(device)
    ema.load_state_dict(model.state_dict())
    ema.eval()
    for q in ema.parameters():
        q.requires_grad_(False)
    params = sum(q.numel() for q in model.parameters())
    optimizer_kwargs = {"fused": True} if device.type == "cuda" else {}
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, **optimizer_kwargs)
    alphas_cumprod = linear_alphas_cumprod(args.schedule_steps).to(device)
    model_params, ema_params = list(model.parameters()), list(ema.parameters())
    model_buffers, ema_buffers = list(model.buffers()), list(ema.buffers())
    print(f"{args.name}: {params:,} parameters on {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), "
          f"{0 if data is None else len(data)} training images, batch {args.batch}, {args.seconds:.0f} s", flush=True)

    def heldout_loss(told_class=False):
        """DdpmTrainer.HeldoutLoss: without a class, or (told_class) with each held-out image's own."""
        if heldout is None or (told_class and heldout_labels is None):
            return None if told_class else {}
        g = torch.Generator(device=device).manual_seed(12345)
        noise = torch.randn(heldout.shape, generator=g, device=device)
        result = {}
        with torch.no_grad():
            for t in (50, 250, 500, 750):
                if t < args.schedule_steps:
                    tt = torch.full((len(heldout),), t, dtype=torch.int64, device=device)
                    result[str(t)] = float(ddpm_loss(ema, heldout, tt, noise, alphas_cumprod,
                                                     classes=heldout_labels if told_class else None))
        return result

    step, smoothed, last_checkpoint, log_every = 0, None, time.time(), 200
    deadline = started + args.seconds

    def record():
        return {
            "name": args.name, "config": cfg, "scheduleKind": "linear", "scheduleSteps": args.schedule_steps,
            "trainingSteps": step, "batchSize": args.batch, "learningRate": args.lr, "warmupSteps": args.warmup,
            "emaRate": args.ema, "mirror": not args.no_mirror,
            "lossWeighting": "P2" if args.loss_weighting == "p2" else "Uniform", "seed": args.seed, "parameterCount": params,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "torch": torch.__version__, "seconds": round(time.time() - started, 1),
            "heldoutLossPyTorch": heldout_loss(), "trainer": "tools/gpu-train/train_unet.py",
            **({"classDropout": args.class_dropout, "classHeldoutLossPyTorch": heldout_loss(told_class=True)} if labels is not None else {}),
        }

    model.train()
    while time.time() < deadline and step < args.max_steps:
        for group in optimizer.param_groups:
            group["lr"] = args.lr * min(1.0, (step + 1.0) / args.warmup) if args.warmup > 0 else args.lr
        index = torch.randint(0, len(data), (args.batch,), device=device)
        x0 = data[index]
        if not args.no_mirror:
            flip = torch.rand(args.batch, 1, 1, 1, device=device) < 0.5
            x0 = torch.where(flip, x0.flip(3), x0)
        t = torch.randint(0, args.schedule_steps, (args.batch,), device=device)
        noise = torch.randn_like(x0)
        classes = None
        if labels is not None:
            dropped = torch.rand(args.batch, device=device) < args.class_dropout
            classes = torch.where(dropped, torch.full_like(index, model.class_count), labels[index])
        loss = ddpm_loss(model, x0, t, noise, alphas_cumprod, args.loss_weighting, classes)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        if step % log_every == 0:
            value, norm_value = float(loss), float(norm)
            if not (math.isfinite(value) and math.isfinite(norm_value)):
                raise SystemExit(f"the loss ({value}) or gradient norm ({norm_value}) is not finite at step {step}; stopping")
            smoothed = value if smoothed is None else 0.9 * smoothed + 0.1 * value
            elapsed = time.time() - started
            print(f"{args.name} step {step} loss {value:.4f} (smoothed {smoothed:.4f}) |grad| {norm_value:.2f} "
                  f"{elapsed:.0f} s, {step / max(elapsed, 1e-9):.1f} steps/s", flush=True)
        optimizer.step()
        decay = min(args.ema, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            torch._foreach_mul_(ema_params, decay)
            torch._foreach_add_(ema_params, model_params, alpha=1.0 - decay)
            for shadow, live in zip(ema_buffers, model_buffers):
                shadow.copy_(live)
        step += 1
        if time.time() - last_checkpoint >= args.checkpoint_seconds:
            export(ema, args, record(), args.out)
            last_checkpoint = time.time()
            print(f"{args.name}: exported step {step}", flush=True)

    final = record()
    export(ema, args, final, args.out)
    print(f"{args.name}: finished {step} steps in {time.time() - started:.0f} s; held-out loss {final['heldoutLossPyTorch']}", flush=True)


if __name__ == "__main__":
    main()
