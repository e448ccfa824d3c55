"""Every hook yolo_hooks ships, in one table, and the steps its features ask the core to run.

Everything else is derived from this table: the hooks.yaml names (:data:`yolo_hooks.core.registry.REGISTRY`),
:data:`yolo_hooks.HOOK_CLASSES`, the package's ``__all__`` and each class's ``config_name``. A new hook family is
one line here.
"""

from __future__ import annotations

from .core import registry

# (hooks.yaml name or None, "module:Class"), in the order the docs and errors list them
HOOKS: tuple[tuple[str | None, str], ...] = (
    ("fitness_report", "yolo_hooks.fitness.report:FitnessReport"),
    ("val_loss_alert", "yolo_hooks.val_loss.hook:ValLossAlert"),
    ("early_stop", "yolo_hooks.plateau.early_stop:EarlyStopping"),
    ("lr_on_plateau", "yolo_hooks.plateau.lr_on_plateau:ReduceLROnPlateau"),
    ("notify", "yolo_hooks.notify.hook:Notify"),
    ("best_mirror", "yolo_hooks.mirror.hook:BestMirror"),
    ("detection_alert", "yolo_hooks.detection.hook:DetectionAlert"),
    ("watchdog", "yolo_hooks.recovery.watchdog:Watchdog"),
    ("trackers", "yolo_hooks.trackers.hook:Trackers"),
    ("control", "yolo_hooks.control.hook:RunControl"),
    (None, "yolo_hooks.fitness.modes:ModeReports"),  # the val / predict / export reports, also on their own
)

# run on rank 0 at the start of every training (see registry.RUN_START_STEPS)
RUN_START_STEPS: tuple[str, ...] = (
    "yolo_hooks.recovery.recover:recover_previous_run",  # a killed run that used the same folder gets its end
)

# every training gets one, with default options unless the config has its section (see registry.RUN_HOOKS)
RUN_HOOKS: tuple[str, ...] = (
    "yolo_hooks.control.hook:RunControl",  # `yolo-hooks stop RUN_DIR` and its siblings reach every run
)

for _config_name, _target in HOOKS:
    registry.register_hook(_config_name, _target)
for _step in RUN_START_STEPS:
    registry.register_run_start(_step)
for _target in RUN_HOOKS:
    registry.register_run_hook(_target)
