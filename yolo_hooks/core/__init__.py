"""The hook core: base class, attach, config, run snapshot and outcome, the bus between hooks, files, worker."""

from .attach import FunctionHook, attach, attached, on
from .bus import Bus, Published
from .config import build_hooks, load_config
from .errors import ConfigError
from .hook import GuardedCallback, Hook
from .registry import REGISTRY
from .run import EpochSnapshot, RunOutcome, is_main_process, rank

__all__ = [
    "REGISTRY",
    "Bus",
    "ConfigError",
    "EpochSnapshot",
    "FunctionHook",
    "GuardedCallback",
    "Hook",
    "Published",
    "RunOutcome",
    "attach",
    "attached",
    "build_hooks",
    "is_main_process",
    "load_config",
    "on",
    "rank",
]
