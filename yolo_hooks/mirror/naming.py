"""Names in the store: the versioned-copy template (Keras ModelCheckpoint style) and its fields.

Ultralytics metric keys (``metrics/mAP50-95(B)``) cannot be written in a ``str.format`` field, so the template
sees them under plain names: the ``metrics/`` prefix is dropped, the box suffix ``(B)`` is dropped, any other
suffix ``(M)``/``(P)`` becomes ``_M``/``_P``, and every other character that is not a letter, digit or ``_``
becomes ``_``. So ``{mAP50_95}``, ``{mAP50}``, ``{precision}``, ``{recall}``, ``{mAP50_95_M}`` (masks),
``{accuracy_top1}`` (classify), ``{val_box_loss}``, ``{train_cls_loss}``, plus ``{epoch}`` and ``{fitness}``.

Examples:
    >>> field_name("metrics/mAP50-95(B)"), field_name("metrics/mAP50(M)"), field_name("val/box_loss")
    ('mAP50_95', 'mAP50_M', 'val_box_loss')
    >>> render("best-epoch{epoch:03d}-{fitness:.4f}.pt", 7, 0.1234, {"metrics/mAP50(B)": 0.5})
    'best-epoch007-0.1234.pt'
"""

from __future__ import annotations

import functools
import re
import string
from typing import Any

DEFAULT_TEMPLATE = "best-epoch{epoch:03d}.pt"
RESERVED = ("best.pt", "best.json", "last.pt", "last.json")

# Every metric key of Ultralytics' detect / segment / pose / obb / classify metrics (8.x).
_METRIC_KEYS = (
    *(f"metrics/{m}({s})" for s in "BMP" for m in ("precision", "recall", "mAP50", "mAP50-95")),
    "metrics/accuracy_top1",
    "metrics/accuracy_top5",
)
LOSS_PREFIXES = ("val_", "train_", "lr_")


@functools.lru_cache(maxsize=1024)  # called for every metric on every new best, on the training thread
def field_name(key: str) -> str:
    """The template name of an Ultralytics metric key (see the module docstring)."""
    key = key.removeprefix("metrics/")
    key = re.sub(r"\(B\)$", "", key)
    key = re.sub(r"\((\w+)\)$", r"_\1", key)
    return re.sub(r"_+", "_", re.sub(r"\W", "_", key)).strip("_")


KNOWN_FIELDS = ("epoch", "fitness", *dict.fromkeys(field_name(k) for k in _METRIC_KEYS))


def fields(epoch: int, fitness: float | None, values: dict[str, Any]) -> dict[str, Any]:
    """Template fields of one checkpoint: ``epoch``, ``fitness`` and every number of ``values`` by its field name."""
    out = {field_name(k): v for k, v in values.items() if isinstance(v, (int, float))}
    out.update(epoch=epoch, fitness=float("nan") if fitness is None else fitness)
    return out


def render(template: str, epoch: int, fitness: float | None, values: dict[str, Any]) -> str:
    """The name of one versioned copy.

    Raises:
        KeyError: the template uses a metric this task does not have.
    """
    return template.format(**fields(epoch, fitness, values))


def check_template(hook: str, template: Any) -> str:
    """``template`` if it is a usable name template; :class:`ConfigError` otherwise (at attach time)."""
    from ..core.errors import ConfigError
    from ..core.validate import check_str

    check_str(hook, "name_template", template)
    allowed = f"a file name with {{epoch}} (e.g. {DEFAULT_TEMPLATE!r}); fields: {', '.join(KNOWN_FIELDS)}, val_*/train_* losses"
    try:
        used = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError:
        raise ConfigError.bad_value(hook, "name_template", template, allowed) from None
    if "/" in template or "\\" in template or "epoch" not in used:
        raise ConfigError.bad_value(hook, "name_template", template, allowed)
    for name in used:
        if name not in KNOWN_FIELDS and not name.startswith(LOSS_PREFIXES):
            raise ConfigError.bad_value(hook, "name_template", template, allowed)
    sample = {name: 0.5 for name in used}
    sample["epoch"] = 1
    try:
        rendered = template.format(**sample)
    except (ValueError, TypeError) as e:
        raise ConfigError.bad_value(hook, "name_template", template, f"{allowed} ({e})") from None
    if rendered in RESERVED or rendered.startswith("."):
        raise ConfigError.bad_value(hook, "name_template", template, allowed + "; not " + ", ".join(RESERVED))
    return template


def prune(versions: list[str], keep: int | None) -> tuple[list[str], list[str]]:
    """Split the versioned names this run wrote (oldest first) into ``(kept, to_delete)`` for ``keep``.

    Examples:
        >>> prune(["e1.pt", "e2.pt", "e3.pt"], 2)
        (['e2.pt', 'e3.pt'], ['e1.pt'])
        >>> prune(["e1.pt", "e2.pt", "e1.pt"], 2)  # re-written name counts once, newest position
        (['e2.pt', 'e1.pt'], [])
    """
    unique = list(reversed(dict.fromkeys(reversed(versions))))
    if keep is None or len(unique) <= keep:
        return unique, []
    cut = len(unique) - keep
    return unique[cut:], unique[:cut]
