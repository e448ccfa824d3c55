"""Ultralytics' own DDP training, on CPU with gloo: a trainer subclass that changes only what assumes a GPU.

Ultralytics' multi-GPU path (``BaseTrainer.train``'s DDP branch): the launching process writes the trainer's class,
args, model and callbacks with cloudpickle (``ultralytics.utils.dist.generate_ddp_file``), starts
``torch.distributed.run`` with one process per device, and every rank rebuilds the trainer from that file and runs
``_do_train`` (distributed sampler, DDP gradients, EMA buffer broadcast, gathered validation, the ``stop``
broadcast after ``on_fit_epoch_end``, checkpoints on rank 0, ``final_eval``). :class:`CpuDDPTrainer` keeps all of
it and overrides only what assumes an accelerator:

- device selection: Ultralytics counts a CPU as 0 devices, so the launching process is told to be a DDP launcher
  for ``RANKS`` ranks, and each worker learns its world size from ``torch.distributed.run``;
- ``_setup_ddp``: ``init_process_group`` with ``gloo`` on the CPU (Ultralytics sets a CUDA/NPU/XPU device first);
- the ``DistributedDataParallel`` wrap without ``device_ids`` (Ultralytics passes ``[device.index]``, ``[None]``
  on a CPU, which DDP refuses);
- ``final_eval``: the validator's DDP branch puts best.pt on ``cuda:<current device>`` for every device type but
  NPU/XPU (``BaseValidator.__call__``); here it goes on the CPU. Its collectives (barrier, gathered stats) are real.

Run as ``python -m tests.ddp.harness spec.json``: builds ``YOLO("yolo11n.yaml")`` (or loads ``resume`` last.pt),
attaches the hooks of the spec and calls ``model.train(trainer=CpuDDPTrainer, ...)``, exactly as a user would.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.utils import DEFAULT_CFG, LOCAL_RANK, RANK, WORLD_SIZE

RANKS = 2  # processes the launching process starts


class _CpuDistributedDataParallel(nn.parallel.DistributedDataParallel):
    """DDP for a CPU module: ``device_ids`` must be left out (Ultralytics passes ``[None]`` on a CPU)."""

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module, **kwargs)


class _CpuDeviceBackend:
    """Stands in for ``torch.cuda`` in the validator's DDP device choice (the device index it asks for)."""

    @staticmethod
    def current_device() -> int:
        return 0


@contextmanager
def _patched(owner, name, value):
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


class CpuDDPTrainer(DetectionTrainer):
    """Ultralytics' DetectionTrainer for a multi-process run on CPU with gloo (see the module docstring)."""

    def __init__(self, cfg=DEFAULT_CFG, overrides=None, _callbacks=None):
        launcher = LOCAL_RANK == -1
        # In the launching process no callback may run (with GPUs, `self.ddp` keeps on_pretrain_routine_start from
        # running there): build it with Ultralytics' defaults and hand it the user's callbacks afterwards.
        super().__init__(cfg, overrides, None if launcher else _callbacks)
        if launcher:
            if _callbacks:
                self.callbacks = {event: list(fns) for event, fns in _callbacks.items()}
            self.world_size, self.ddp = RANKS, True
        else:
            self.world_size = WORLD_SIZE  # a worker started by torch.distributed.run

    def _setup_ddp(self):
        self.device = torch.device("cpu")
        dist.init_process_group(backend="gloo", timeout=timedelta(seconds=600), rank=RANK, world_size=self.world_size)

    def _setup_train(self):
        with _patched(nn.parallel, "DistributedDataParallel", _CpuDistributedDataParallel):
            super()._setup_train()

    def final_eval(self):
        import ultralytics.engine.validator as validator
        from ultralytics.nn.autobackend import AutoBackend

        class CpuAutoBackend(AutoBackend):
            def __init__(self, *args, device=None, **kwargs):
                super().__init__(*args, device=torch.device("cpu"), **kwargs)

        with _patched(validator, "get_torch_device_backend", lambda device_type: _CpuDeviceBackend), \
                _patched(validator, "AutoBackend", CpuAutoBackend):
            super().final_eval()


def main(spec_path: str) -> None:
    """Train as the spec says (``hooks``: a hooks.yaml; ``probes``: test hooks from tests.ddp.probes)."""
    from ultralytics import YOLO

    import yolo_hooks
    from tests.ddp import probes

    spec = json.loads(open(spec_path, encoding="utf-8").read())
    model = YOLO(spec["resume"]) if spec.get("resume") else YOLO("yolo11n.yaml")
    items = [spec["hooks"]] if spec.get("hooks") else []
    items += probes.build(spec.get("probes", {}))
    yolo_hooks.attach(model, *items)
    if spec.get("resume"):
        model.train(trainer=CpuDDPTrainer, resume=True)
    else:
        model.train(trainer=CpuDDPTrainer, **spec["train"])


if __name__ == "__main__":
    # Through the module, not __main__: cloudpickle sends classes of __main__ by value, with this process' ranks.
    from tests.ddp import harness

    harness.main(sys.argv[1])


class Hang(AssertionError):
    """The multi-process run did not end within its time limit (its process group was killed)."""


def launch(spec: dict, folder, timeout: float) -> str:
    """Run ``python -m tests.ddp.harness`` on ``spec``; returns its output (launcher, torch.distributed.run, ranks).

    Raises:
        Hang: it ran past ``timeout`` seconds; every process of the run is killed first (torch.distributed.run
            starts each rank in a session of its own, so the whole process tree is collected, not a group).
        AssertionError: it failed (the output is in the message).
    """
    import subprocess
    from pathlib import Path

    import psutil  # comes with ultralytics

    folder = Path(folder)
    path, log = folder / "ddp_spec.json", folder / "ddp_output.log"
    path.write_text(json.dumps(spec))
    with open(log, "w") as out:
        root = Path(__file__).resolve().parents[2]  # this checkout's tests and yolo_hooks come first on sys.path
        proc = subprocess.Popen([sys.executable, "-m", "tests.ddp.harness", str(path)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=root)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            tree = [proc, *psutil.Process(proc.pid).children(recursive=True)]
            for p in tree:
                p.kill()
            proc.wait()
            psutil.wait_procs([p for p in tree if p is not proc], timeout=30)
            raise Hang(f"the {RANKS}-rank run did not end within {timeout:.0f} s:\n{_tail(log)}") from None
    if proc.returncode != 0:
        raise AssertionError(f"the {RANKS}-rank run failed (exit {proc.returncode}):\n{_tail(log)}")
    return log.read_text(errors="replace")


def _tail(log, chars: int = 6000) -> str:
    return log.read_text(errors="replace")[-chars:]
