"""Shared fixtures: offline Ultralytics, the bundled coco8, a real (tiny) training helper, and real loopback servers."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# One folder for the whole session, removed when it ends (the test processes it starts share it through the
# environment): Ultralytics' settings, and a copy of the bundled datasets, because Ultralytics writes its label
# caches next to the labels, and the suite writes nothing into the source tree.
SESSION_ENV = "YOLO_HOOKS_TEST_SESSION"
if not os.environ.get(SESSION_ENV):
    os.environ[SESSION_ENV] = tempfile.mkdtemp(prefix="yolo_hooks_tests_")
    atexit.register(shutil.rmtree, os.environ[SESSION_ENV], ignore_errors=True)
SESSION = Path(os.environ[SESSION_ENV])
DATASETS = SESSION / "datasets"
if not DATASETS.exists():
    shutil.copytree(ROOT / "datasets", DATASETS, ignore=shutil.ignore_patterns("*.cache", "__pycache__"))

# Before anything imports ultralytics: no downloads, and settings in the session's folder.
os.environ["YOLO_OFFLINE"] = "1"
os.environ.setdefault("YOLO_CONFIG_DIR", str(SESSION / "ultralytics_settings"))
os.environ.setdefault("NO_COLOR", "1")

import pytest  # noqa: E402
from ultralytics import settings as ultralytics_settings  # noqa: E402

# Ray, MLflow and W&B come with the dev extra: left on, Ultralytics would import them in every training of the suite
# (about 3 s each for ray and mlflow) and log to them. The tests of those integrations (tests/env/test_ray_tune.py,
# tests/trackers/) run them in a process with a settings folder of its own.
ultralytics_settings.update({"raytune": False, "mlflow": False, "wandb": False})

COCO8 = DATASETS / "coco8.yaml"
COCO8_VAL_IMAGES = DATASETS / "coco8" / "images" / "val"

# The smallest settings that still exercise every event: 2 cores, ~1-2 s per epoch.
TRAIN_DEFAULTS = dict(imgsz=160, batch=4, workers=0, plots=False, amp=False, seed=0, deterministic=True, verbose=False)


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not _cuda_available(), reason="no CUDA device"))])
def device(request) -> str:
    """Every training test runs on CPU, and on CUDA where a GPU is present."""
    return request.param


def train(tmp_path: Path, *hooks, device: str = "cpu", epochs: int = 2, model=None, attach_kwargs=None, **overrides):
    """Train yolo11n.yaml (random init) on the bundled coco8 with ``hooks`` attached; returns the YOLO model.

    The run's folder is ``tmp_path / "run"`` (``model.trainer.save_dir``).
    """
    from ultralytics import YOLO

    import yolo_hooks

    model = model or YOLO("yolo11n.yaml")
    if hooks:
        yolo_hooks.attach(model, *hooks, **(attach_kwargs or {}))
    args = dict(TRAIN_DEFAULTS, data=str(COCO8), epochs=epochs, device=device, project=str(tmp_path), name="run")
    args.update(overrides)
    args.setdefault("exist_ok", True)
    model.train(**args)
    return model


@pytest.fixture(scope="session")
def trained_weights(tmp_path_factory) -> Path:
    """best.pt of a 1-epoch coco8 training, made by the tests themselves (no weights can be downloaded here)."""
    tmp = tmp_path_factory.mktemp("weights")
    model = train(tmp, epochs=1)
    return Path(model.trainer.best)


class _InterruptAt:
    """Raises KeyboardInterrupt at the start of 0-based epoch ``epoch`` (as a Ctrl-C or a preemption would)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def __call__(self, trainer):
        if trainer.epoch == self.epoch:
            raise KeyboardInterrupt(f"interrupted at epoch {self.epoch}")


def train_interrupted_then_resumed(tmp_path: Path, make_hooks, *, epochs: int, interrupt_at: int, device: str = "cpu", **overrides):
    """Train with ``make_hooks()`` attached, interrupt at the start of 0-based epoch ``interrupt_at`` (so epochs
    ``1..interrupt_at`` are complete in last.pt), then resume from last.pt with a *fresh* ``make_hooks()`` as a user
    would in a new process. Returns ``(first_hooks, resumed_hooks, resumed_model)``.
    """
    from ultralytics import YOLO

    import yolo_hooks

    first_hooks = make_hooks()
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, *first_hooks)
    model.add_callback("on_train_epoch_start", _InterruptAt(interrupt_at))
    try:
        train(tmp_path, model=model, device=device, epochs=epochs, **overrides)
    except KeyboardInterrupt:
        pass
    last = tmp_path / "run" / "weights" / "last.pt"
    resumed_hooks = make_hooks()
    resumed = YOLO(last)
    yolo_hooks.attach(resumed, *resumed_hooks)
    resumed.train(resume=True)
    return first_hooks, resumed_hooks, resumed


# --- per-task datasets (segment, pose, classify, obb) made from coco8 by the committed datasets/make_tasks.py -----
MAKE_TASKS = DATASETS / "make_tasks.py"


def load_make_tasks():
    """datasets/make_tasks.py as a module (datasets/ is data, not a package)."""
    spec = importlib.util.spec_from_file_location("make_tasks", MAKE_TASKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def make_tasks():
    return load_make_tasks()


@pytest.fixture(scope="session")
def task_data(tmp_path_factory, make_tasks) -> dict[str, Path]:
    """``{task: data}`` for segment, pose, classify and obb, built once per session in a temporary folder."""
    return make_tasks.make_tasks(tmp_path_factory.mktemp("tasks"))


# --- an S3-compatible server (moto server mode) on loopback, shared by the mirror and resume tests -----------------
@pytest.fixture(scope="module")
def s3_server(monkeypatch_module):
    """A real S3-compatible server (moto) on 127.0.0.1 with dummy credentials in the usual AWS variables."""
    from moto.server import ThreadedMotoServer

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch_module.setenv(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import s3fs

    # moto keeps its buckets per process, not per server: a second module's server already has the bucket
    s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True).makedirs("mirror-bucket", exist_ok=True)
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


# --- HTTP on loopback: the product's receiver playing any endpoint (tests/servers.py) ----------------------------
@pytest.fixture
def endpoint():
    """A receiver on 127.0.0.1 at a URL carrying a token; answers ``ok`` until told otherwise."""
    from tests.servers import Endpoint

    server = Endpoint().start()
    yield server
    server.stop()


@pytest.fixture(name="dead_url")
def dead_url_fixture() -> str:
    """A URL on a loopback port where nothing listens: every request is refused."""
    from tests.servers import dead_url

    return dead_url()


@pytest.fixture
def log_lines():
    """Every message Ultralytics' LOGGER (which every hook logs through) emits during the test."""
    import logging

    from ultralytics.utils import LOGGER

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    LOGGER.addHandler(handler)
    yield lines
    LOGGER.removeHandler(handler)


@pytest.fixture
def formats_for_this_test(monkeypatch):
    """The notify formats' tables, restored after the test: a format registered in it is gone afterwards."""
    from yolo_hooks.notify import formats

    for table in ("_MODULES", "OPTIONS", "RATE_LIMITS"):
        monkeypatch.setattr(formats, table, dict(getattr(formats, table)))
    for names in ("FORMATS", "HTTP_FORMATS"):
        monkeypatch.setattr(formats, names, getattr(formats, names))
    return formats


def _untracked_and_ignored() -> set[str] | None:
    """What ``git status --ignored`` lists in the checkout (``__pycache__`` aside); None outside a git checkout."""
    import subprocess

    try:
        out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return {line for line in out.stdout.splitlines() if "__pycache__" not in line and ".venv" not in line}


@pytest.fixture(scope="session", autouse=True)
def the_suite_writes_nothing_into_the_checkout():
    """Running the tests changes nothing under the project root: every file they make is in a temporary folder."""
    before = _untracked_and_ignored()
    yield
    after = _untracked_and_ignored()
    if before is not None and after is not None:
        assert sorted(after - before) == [], "the tests wrote into the source tree"
