"""Ultralytics callback event names, grouped by the object that fires them.

A hook method named after one of these events is registered for it; any other ``on_*`` method is a typo and
:func:`yolo_hooks.attach` rejects it before training starts.
"""

from __future__ import annotations

TRAINER_EVENTS = (
    "on_pretrain_routine_start",
    "on_pretrain_routine_end",
    "on_train_start",
    "on_train_epoch_start",
    "on_train_batch_start",
    "optimizer_step",
    "on_before_zero_grad",
    "on_train_batch_end",
    "on_train_epoch_end",
    "on_fit_epoch_end",
    "on_model_save",
    "on_train_end",
    "on_params_update",
    "teardown",
)
VALIDATOR_EVENTS = ("on_val_start", "on_val_batch_start", "on_val_batch_end", "on_val_end")
PREDICTOR_EVENTS = (
    "on_predict_start",
    "on_predict_batch_start",
    "on_predict_postprocess_end",
    "on_predict_batch_end",
    "on_predict_end",
)
EXPORTER_EVENTS = ("on_export_start", "on_export_end")


def known_events() -> tuple[str, ...]:
    """All event names: ours plus any that the installed Ultralytics defines and we do not list yet."""
    from ultralytics.utils.callbacks.base import default_callbacks

    ours = TRAINER_EVENTS + VALIDATOR_EVENTS + PREDICTOR_EVENTS + EXPORTER_EVENTS
    return ours + tuple(e for e in default_callbacks if e not in ours)


# Methods of a hook that look like events but belong to yolo_hooks itself.
RESERVED_METHODS = frozenset({"on_published"})


def check_event(owner: str, name: str) -> None:
    """Raise :class:`ConfigError` naming ``owner`` when ``name`` is not an event Ultralytics fires."""
    import difflib

    from .errors import ConfigError

    events = known_events()
    if name not in events:
        close = difflib.get_close_matches(name, events, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        raise ConfigError(f"{owner}: `{name}` is not an Ultralytics event; {hint}events are: {', '.join(events)}")
