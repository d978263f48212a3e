"""The training loop every openreels stage shares: devices, DDP, mixed precision, accumulation, EMA,
atomic checkpoints with resume, and a progress line.

Parallelism is torch's own: launched under torchrun (WORLD_SIZE > 1) the model is wrapped in
DistributedDataParallel and each rank draws its own batches from a rank-offset seed; rank 0 logs and saves.
Randomness is keyed by (seed, step, rank), so a resumed run draws the same batches and noise it would have
drawn without the interruption.
"""

from __future__ import annotations

import math
import os
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.optim.swa_utils import AveragedModel

from openreels.errors import OpenreelsError


@dataclass
class LoopConfig:
    steps: int
    lr: float = 3e-4
    weight_decay: float = 0.0
    warmup: int = 50
    min_lr_ratio: float = 0.1  # cosine decay to this fraction of lr
    grad_accum: int = 1
    clip_grad: float = 1.0
    ema_decay: float | None = 0.999
    mixed_precision: str = "auto"  # "auto" (bf16 autocast on CUDA, fp32 on CPU), "bf16" or "no"
    ckpt_every: int = 200
    log_every: int = 20
    seed: int = 0
    # Stop early (with a checkpoint) after this much training time; the learning-rate decay then follows the
    # clock, so the run ends annealed. Record the steps it reached to reproduce it without the limit.
    time_limit_s: float | None = None


@dataclass
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> tuple[DistInfo, torch.device]:
    """Join the torchrun process group when launched by torchrun; otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), resolve_device(device)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    dev = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    return DistInfo(dist.get_rank(), local, dist.get_world_size()), dev


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def ema_with_warmup(decay: float):
    """EMA update for torch's AveragedModel whose decay ramps up as min(decay, (1 + n) / (10 + n)).

    A fixed decay d keeps weight d**n on the first weights (near the random init): 0.999 over 1400 steps
    leaves 25% of the init in the average. The ramp keeps a short run's average on the trained weights."""

    @torch.no_grad()
    def update(ema_params: list[torch.Tensor], params: list[torch.Tensor], num_averaged) -> None:
        n = int(num_averaged)
        d = min(decay, (1 + n) / (10 + n))
        for e, p in zip(ema_params, params, strict=True):
            if e.is_floating_point():
                e.lerp_(p.detach().to(e.dtype), 1.0 - d)
            else:  # integer buffers (e.g. CLIP's position ids) are copied, not averaged
                e.copy_(p.detach())

    return update


def atomic_torch_save(obj: object, path: Path) -> None:
    """Write to a temporary name in the same folder, fsync, then rename: a kill leaves the old file whole."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class TrainingPaused(Exception):
    """Raised after a checkpoint when a run reaches its pause deadline; the same command resumes it."""

    def __init__(self, name: str, step: int, steps: int) -> None:
        super().__init__(f"[{name}] paused at step {step}/{steps}; run the same command again to resume")
        self.name, self.step, self.steps = name, step, steps


def _fmt_time(s: float) -> str:
    s = int(max(s, 0))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Trainer:
    """Runs `loss_fn(model, batch, gen, noise_gen) -> loss` over `batches(step, rank) -> batch` for cfg.steps.

    The checkpoint `<workdir>/<name>.ckpt` holds model, EMA, optimizer, scheduler and step; it is written every
    `ckpt_every` steps and at the end, so a killed run restarted with the same arguments resumes with at most
    one interval lost. `run()` returns the trained module (EMA weights when EMA is on).
    """

    def __init__(
        self,
        name: str,
        model: nn.Module,
        loss_fn: Callable[[nn.Module, dict, torch.Generator, torch.Generator], torch.Tensor],
        batches: Callable[[int, int], dict],
        cfg: LoopConfig,
        workdir: str | Path,
        device: torch.device,
        dist_info: DistInfo | None = None,
        extra_modules: Iterable[nn.Module] = (),
        samples_per_batch: int = 1,
        log: Callable[[str], None] | None = None,
        pause_at: float | None = None,
    ) -> None:
        self.name = name
        self.pause_at = pause_at  # a time.monotonic() deadline: checkpoint and raise TrainingPaused
        self.cfg = cfg
        self.device = device
        self.dist = dist_info or DistInfo()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ckpt_path = self.workdir / f"{name}.ckpt"
        self.loss_fn = loss_fn
        self.batches = batches
        self.samples_per_batch = samples_per_batch
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))

        # Extra trainable modules (e.g. a condition encoder) ride along inside one container, so DDP, EMA and
        # the checkpoint treat them with the model.
        self.module = nn.ModuleDict({"model": model, "extra": nn.ModuleList(list(extra_modules))}).to(device)
        self.model = self.module["model"]
        self.wrapped: nn.Module = self.model
        if self.dist.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if device.type == "cuda" else None
            self.wrapped = DDP(self.model, device_ids=ids)
        self.ema = None
        if cfg.ema_decay:
            self.ema = AveragedModel(
                self.module, multi_avg_fn=ema_with_warmup(cfg.ema_decay), use_buffers=True
            )
        params = [p for p in self.module.parameters() if p.requires_grad]
        fused = device.type == "cuda"
        self.opt = torch.optim.AdamW(
            params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99), fused=fused
        )
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, self._lr_factor)
        amp = cfg.mixed_precision
        if amp == "auto":
            amp = "bf16" if device.type == "cuda" else "no"
        self.autocast_dtype = torch.bfloat16 if amp == "bf16" else None
        self.step = 0
        self.elapsed = 0.0

    def _lr_factor(self, step: int) -> float:
        if step < self.cfg.warmup:
            return (step + 1) / self.cfg.warmup
        frac = (step - self.cfg.warmup) / max(1, self.cfg.steps - self.cfg.warmup)
        if self.cfg.time_limit_s:  # under a time limit the decay also follows the clock, ending at the limit
            frac = max(frac, getattr(self, "elapsed", 0.0) / self.cfg.time_limit_s)
        cos = 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        return self.cfg.min_lr_ratio + (1 - self.cfg.min_lr_ratio) * cos

    # -- checkpoints ---------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "name": self.name,
            "step": self.step,
            "elapsed": self.elapsed,
            "module": self.module.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "opt": self.opt.state_dict(),
            "sched": self.sched.state_dict(),
            "cfg": asdict(self.cfg),
        }

    def save(self) -> None:
        if self.dist.is_main:
            atomic_torch_save(self.state_dict(), self.ckpt_path)
        if self.dist.world_size > 1:
            dist.barrier()

    def try_resume(self) -> bool:
        if not self.ckpt_path.exists():
            return False
        try:
            if not zipfile.is_zipfile(
                self.ckpt_path
            ):  # torch.save writes a zip; garbage can unpickle to anything
                raise ValueError("not a torch checkpoint")
            state = torch.load(self.ckpt_path, map_location=self.device, weights_only=False)
            self.module.load_state_dict(state["module"])
            if self.ema is not None and state["ema"] is not None:
                self.ema.load_state_dict(state["ema"])
            self.opt.load_state_dict(state["opt"])
            self.sched.load_state_dict(state["sched"])
            self.step = int(state["step"])
            self.elapsed = float(state["elapsed"])
        except Exception as exc:  # unpickling damaged bytes raises almost anything (MemoryError too)
            raise OpenreelsError(
                f"the checkpoint {self.ckpt_path} is damaged or from another recipe ({type(exc).__name__}); "
                "delete it to start this stage over, or pass another --workdir"
            ) from exc
        return True

    def _should_pause(self) -> bool:
        if self.pause_at is None:
            return False
        due = time.monotonic() >= self.pause_at
        if self.dist.world_size == 1:
            return due
        flag = torch.tensor(float(due), device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)  # every rank must stop at the same step, or DDP hangs
        return bool(flag)

    @property
    def finished(self) -> bool:
        return self.step >= self.cfg.steps

    def result(self) -> nn.Module:
        """The trained model: EMA weights if EMA is on (the AveragedModel's copy of the container)."""
        if self.ema is not None:
            return self.ema.module["model"]
        return self.model

    def trained_extras(self) -> nn.ModuleList:
        """The `extra_modules` as trained, from the same weights as `result()` (EMA when on)."""
        return (self.ema.module if self.ema is not None else self.module)["extra"]

    # -- the loop ------------------------------------------------------------------------------------------
    def _generators(self, micro: int) -> tuple[torch.Generator, torch.Generator]:
        key = ((self.cfg.seed * 1_000_003 + self.step) * 97 + self.dist.rank) * 31 + micro
        gen = torch.Generator().manual_seed(key)
        noise_gen = torch.Generator(device=self.device).manual_seed(key + 7)
        return gen, noise_gen

    def run(self) -> nn.Module:
        cfg = self.cfg
        if self.try_resume() and self.dist.is_main:
            self.log(f"[{self.name}] resumed from step {self.step}/{cfg.steps}")
        if self.finished:
            return self.result()
        self.module.train()
        start = time.perf_counter()
        start_elapsed = self.elapsed
        window_loss, window_n, window_t, window_samples = 0.0, 0, time.perf_counter(), 0
        while self.step < cfg.steps:
            if self._should_pause():
                self.save()  # unlike time_limit_s, the schedule is untouched: a resumed run carries on with it
                raise TrainingPaused(self.name, self.step, cfg.steps)
            self.opt.zero_grad(set_to_none=True)
            total = 0.0
            for micro in range(cfg.grad_accum):
                batch = self.batches(self.step * cfg.grad_accum + micro, self.dist.rank)
                gen, noise_gen = self._generators(micro)
                sync = micro == cfg.grad_accum - 1 or self.dist.world_size == 1
                ctx = self.wrapped.no_sync() if not sync else nullcontext()
                with (
                    ctx,
                    torch.autocast(
                        self.device.type,
                        dtype=self.autocast_dtype or torch.float32,
                        enabled=self.autocast_dtype is not None,
                    ),
                ):
                    loss = self.loss_fn(self.wrapped, batch, gen, noise_gen) / cfg.grad_accum
                loss.backward()
                total += float(loss.detach())
            if not math.isfinite(total):
                raise FloatingPointError(f"[{self.name}] loss became {total} at step {self.step}")
            if cfg.clip_grad:
                torch.nn.utils.clip_grad_norm_(self.module.parameters(), cfg.clip_grad)
            self.opt.step()
            self.sched.step()
            if self.ema is not None:
                self.ema.update_parameters(self.module)
            self.step += 1
            self.elapsed = start_elapsed + time.perf_counter() - start
            window_loss += total
            window_n += 1
            window_samples += self.samples_per_batch * cfg.grad_accum * self.dist.world_size
            done = self.step >= cfg.steps
            over_time = cfg.time_limit_s is not None and self.elapsed >= cfg.time_limit_s
            if self.dist.is_main and (self.step % cfg.log_every == 0 or done or over_time):
                dt = max(time.perf_counter() - window_t, 1e-9)
                rate = self.step / max(self.elapsed, 1e-9)
                self.log(
                    f"[{self.name}] step {self.step}/{cfg.steps} loss {window_loss / window_n:.4f} "
                    f"{window_samples / dt:.1f} samples/s lr {self.sched.get_last_lr()[0]:.2e} "
                    f"elapsed {_fmt_time(self.elapsed)} eta {_fmt_time((cfg.steps - self.step) / max(rate, 1e-9))}"
                )
                window_loss, window_n, window_t, window_samples = 0.0, 0, time.perf_counter(), 0
            if self.step % cfg.ckpt_every == 0 or done or over_time:
                self.save()
            if over_time and not done:
                if self.dist.is_main:
                    self.log(f"[{self.name}] time limit reached at step {self.step}; stopping early")
                self.cfg.steps = self.step  # what is saved is the final model of this run
                self.save()
                break
        return self.result()
