"""Synthetic tracking scenes with known events, to score detection alerts against ground truth (numpy + cv2 only).

``make_scene(out_dir, seed)`` draws a short video of moving coloured shapes (circles, squares, triangles, like
``examples/demo.py``) over a lightly textured background and writes, next to it, what happens in it:

- ``scene_<seed>.mp4``: 384x256, 10 fps, 36 s (360 frames) by default, MPEG-4 (about 0.3 MB); 12 objects
  (:class:`SceneConfig` ``roles``), a few on screen at a time, 30-38 px, moving 35-50 px/s (the dweller 16-22 px/s
  inside the zone); drawn in 3-5 s on one CPU core;
- ``scene_<seed>.json``: the scene geometry (a convex ``zone`` polygon, a ``line`` segment and its ``in_normal``),
  the objects (``obj0``... with class, colour, size and role) and the ground-truth ``events``, each
  ``{rule, subject, class, frame, time, ...}`` with ``rule`` one of :data:`RULES`;
- ``scene_<seed>.boxes.json``: every object's box in every frame (what a detector should find), for mapping track
  ids to subjects (``datasets/scene_score.py``): clipped to the frame, with the fraction of the shape seen
  (off-frame or hidden by another); about 40 kB.

Event definitions (all on the **anchor point**, ``bottom_center`` of the box by default, as in
``yolo_hooks.DetectionAlert``; ``anchor="center"`` is the other choice; the point's path is what the generator
moves, so both are exact):

- ``enter``: first frame whose anchor is inside the zone after a frame where the same object was seen outside;
  ``leave``: first frame outside after a frame inside;
- ``line_in`` / ``line_out``: first frame after the anchor's move from the previous frame crossed the segment
  (the infinite line crossed at a point of the segment: ``at``, 0-1 along it), towards ``in_normal``
  (``line_in``) or against it;
- ``dwell``: inside without a break for ``dwell_s`` seconds (4): the frame ``enter_frame + dwell_s * fps`` (an
  object first seen inside counts from its first frame); two dwellers per scene, and passers staying under
  ``dwell_s - 1`` s;
- the ``stationary`` object sits inside the zone for the whole video: a naive dwell rule fires on it, but with an
  "ignore stationary" rule (anchor moving less than a few pixels for ``stationary_s``) nothing is expected: its
  events are listed under ``suppressed_events`` (reason ``stationary``), not ``events``;
- the ``big`` object (about twice the size) is meant to be dropped by a ``max_area`` filter (``area_filter`` in the
  JSON); its events are in ``suppressed_events`` too (reason ``area``);
- the ``cross_a`` / ``cross_b`` pair cross each other's paths (their boxes overlap, one hides part of the other,
  at 100-180 degrees) and then head for the line and the zone: the hard case for a tracker's ids, and a swap
  there names the wrong object in their later events. Every other pair of objects keeps ``gap`` pixels apart.

Every scene is checked before it is written (a failed check redraws it from the next sub-seed, so a seed always
gives the same scene): every rule occurs; every event happens in full view (whole box in the frame, not hidden)
for ``clear_s`` around it; an anchor never lingers within ``margin`` pixels of the zone's edge or the line
except while crossing it, crosses the zone's edge and the line at 30 degrees or more, and the line at least
``margin`` from its ends; no stay in the zone lasts within 1 s of ``dwell_s``; the same object's boundary crossings
are at least 1.5 s apart.

``make_training_set(root, seed)`` draws detector training data with the same drawing code: full frames with 2-7
shapes at random places and sizes (ordinary and big), some cut by the frame's edge, some overlapping, saved as
JPEG (like video frames) with YOLO labels; it returns the dataset YAML.

Usage::

    python datasets/make_scene.py OUT_DIR [SEED ...]          # scenes (default seeds 0 1 2)
    python datasets/make_scene.py OUT_DIR --train             # the training set (OUT_DIR/shapes.yaml)
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

SHAPES = ("circle", "square", "triangle")
RULES = ("enter", "leave", "line_in", "line_out", "dwell")
ROLES = ("stationary", "dweller", "passer", "line_once", "returner", "line_miss", "cross_a", "cross_b", "big")
MAX_ATTEMPTS = 200
MIN_CROSSING_SIN = 0.5  # the anchor crosses the zone's edge and the line at 30 degrees or more


@dataclass(frozen=True)
class SceneConfig:
    """What every scene of a seed shares; sizes in pixels, speeds in pixels per second."""

    width: int = 384
    height: int = 256
    fps: int = 10
    seconds: float = 36.0
    size: tuple[int, int] = (30, 38)  # side of an ordinary shape's box
    big_size: tuple[int, int] = (64, 72)
    speed: tuple[float, float] = (35.0, 50.0)
    slow_speed: tuple[float, float] = (16.0, 22.0)  # the dweller inside the zone
    dwell_s: float = 4.0
    stationary_s: float = 2.0  # suggested window for an "ignore stationary" rule (the dweller moves > 30 px in it)
    anchor: str = "bottom_center"  # or "center"
    margin: float = 10.0
    gap: float = 8.0
    clear_s: float = 0.3
    noise: float = 2.0  # per-frame pixel noise (standard deviation)
    # who is in the scene ("cross" is the crossing pair); the stationary object is placed first, the rest in a
    # random order, each at a random time where it keeps ``gap`` from everything already placed
    roles: tuple[str, ...] = ("stationary", "dweller", "dweller", "passer", "passer", "line_once", "line_once",
                              "returner", "line_miss", "cross", "big")  # fmt: skip

    @property
    def frames(self) -> int:
        return int(round(self.seconds * self.fps))


# ---------------------------------------------------------------------------------------------------- geometry


def anchor_of(box, anchor: str = "bottom_center") -> tuple[float, float]:
    """The anchor point of an ``(x1, y1, x2, y2)`` box: ``bottom_center`` or ``center``."""
    x1, y1, x2, y2 = box[:4]
    return ((x1 + x2) / 2, y2 if anchor == "bottom_center" else (y1 + y2) / 2)


def point_in_polygon(x: float, y: float, polygon) -> bool:
    """Even-odd rule, the same test as ``yolo_hooks.detection.geometry.Zone.contains``, written again on purpose:
    the ground truth must not come from the code it scores."""
    inside = False
    j = len(polygon) - 1
    for i in range(len(polygon)):
        (xi, yi), (xj, yj) = polygon[i], polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _segment_distance(p, a, b) -> float:
    ax, ay, bx, by = float(a[0]), float(a[1]), float(b[0]), float(b[1])
    dx, dy = bx - ax, by - ay
    t = min(1.0, max(0.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / max(dx * dx + dy * dy, 1e-12)))
    return math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy)


def polygon_distance(p, polygon) -> float:
    """Distance from a point to a polygon's boundary."""
    return min(_segment_distance(p, polygon[i - 1], polygon[i]) for i in range(len(polygon)))


def line_side(p, line, normal) -> float:
    """Signed distance of ``p`` from the line through ``line``'s segment, positive on ``normal``'s side."""
    return float((p[0] - line[0][0]) * normal[0] + (p[1] - line[0][1]) * normal[1])


def crosses_segment(p0, p1, line) -> bool:
    """Does the move ``p0 -> p1`` cross the infinite line at a point of the segment ``line`` (strictly)?"""
    (ax, ay), (bx, by) = line
    dx, dy = bx - ax, by - ay
    s0 = (p0[0] - ax) * dy - (p0[1] - ay) * dx
    s1 = (p1[0] - ax) * dy - (p1[1] - ay) * dx
    if s0 == 0 or s1 == 0 or (s0 > 0) == (s1 > 0):
        return False
    t = s0 / (s0 - s1)
    cx, cy = p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1])
    u = ((cx - ax) * dx + (cy - ay) * dy) / (dx * dx + dy * dy)
    return 0.0 <= u <= 1.0


def _crossing_at(p0, p1, line) -> float:
    """Where along the segment (0 at its first point, 1 at its last) the move ``p0 -> p1`` crosses its line."""
    (ax, ay), (bx, by) = line
    dx, dy = bx - ax, by - ay
    s0 = (p0[0] - ax) * dy - (p0[1] - ay) * dx
    s1 = (p1[0] - ax) * dy - (p1[1] - ay) * dx
    t = s0 / (s0 - s1)
    cx, cy = p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1])
    return ((cx - ax) * dx + (cy - ay) * dy) / (dx * dx + dy * dy)


def _edge_normal(p, polygon) -> np.ndarray:
    """Unit normal of the polygon edge nearest to ``p``."""
    i = min(range(len(polygon)), key=lambda j: _segment_distance(p, polygon[j - 1], polygon[j]))
    d = np.subtract(polygon[i], polygon[i - 1])
    return np.array([-d[1], d[0]]) / np.linalg.norm(d)


def _unit(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle)])


def _rotate(v, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _box(point, side: float, anchor: str) -> tuple[float, float, float, float]:
    """The box whose anchor is ``point`` (paths move the anchor)."""
    x, y = point
    if anchor == "bottom_center":
        return (x - side / 2, y - side, x + side / 2, y)
    return (x - side / 2, y - side / 2, x + side / 2, y + side / 2)


def _boxes(points: np.ndarray, side: float, anchor: str) -> np.ndarray:
    """:func:`_box` of many anchor points at once: ``(n, 4)``."""
    x, y = points[:, 0], points[:, 1]
    if anchor == "bottom_center":
        return np.stack([x - side / 2, y - side, x + side / 2, y], 1)
    return np.stack([x - side / 2, y - side / 2, x + side / 2, y + side / 2], 1)


def _off_frame(point, direction, side: float, cfg: SceneConfig, anchor: str) -> np.ndarray:
    """Walk from ``point`` along ``direction`` until the whole box is out of the frame (2 px beyond it)."""
    p, d = np.asarray(point, float), np.asarray(direction, float) / np.linalg.norm(direction)
    q = p + np.arange(0, 4 * (cfg.width + cfg.height))[:, None] * d
    b = _boxes(q, side, anchor)
    out = (b[:, 2] < -2) | (b[:, 3] < -2) | (b[:, 0] > cfg.width + 2) | (b[:, 1] > cfg.height + 2)
    return q[int(np.argmax(out))]


# ---------------------------------------------------------------------------------------------------- objects


@dataclass
class SceneObject:
    """A shape moving its anchor along ``points`` (piecewise straight, ``speeds[i]`` on segment i) from ``start_s``."""

    name: str
    role: str
    cls: int
    colour: tuple[int, int, int]
    side: float
    points: list
    speeds: list
    start_s: float = 0.0
    always: bool = False  # present in every frame (the stationary object)

    @property
    def duration(self) -> float:
        return sum(float(np.linalg.norm(np.subtract(b, a))) / v for a, b, v in zip(self.points, self.points[1:], self.speeds))

    def anchors(self, times: np.ndarray) -> np.ndarray:
        """``(len(times), 2)`` anchor positions; NaN where the object is not in the scene."""
        out = np.full((len(times), 2), np.nan)
        if self.always:
            out[:] = self.points[0]
            return out
        knots = [self.start_s]
        for a, b, v in zip(self.points, self.points[1:], self.speeds):
            knots.append(knots[-1] + float(np.linalg.norm(np.subtract(b, a))) / v)
        pts = np.asarray(self.points, float)
        live = (times >= knots[0]) & (times <= knots[-1])
        out[live, 0] = np.interp(times[live], knots, pts[:, 0])
        out[live, 1] = np.interp(times[live], knots, pts[:, 1])
        return out


def draw_shape(image: np.ndarray, cls: int, box, colour) -> None:
    """Draw a filled shape (antialiased, sub-pixel) filling ``box`` (x1, y1, x2, y2, floats)."""
    shift = 4
    k = 1 << shift
    x1, y1, x2, y2 = box
    colour = tuple(int(c) for c in colour)
    if SHAPES[cls] == "circle":
        centre = (int(round((x1 + x2) / 2 * k)), int(round((y1 + y2) / 2 * k)))
        cv2.circle(image, centre, int(round((x2 - x1) / 2 * k)), colour, -1, cv2.LINE_AA, shift)
    elif SHAPES[cls] == "square":
        pts = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]) * k
        cv2.fillPoly(image, [np.round(pts).astype(np.int32)], colour, cv2.LINE_AA, shift)
    else:
        pts = np.array([[(x1 + x2) / 2, y1], [x2, y2], [x1, y2]]) * k
        cv2.fillPoly(image, [np.round(pts).astype(np.int32)], colour, cv2.LINE_AA, shift)


def background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A dark plain colour with a soft blotchy texture (+-12 levels) and a gentle gradient."""
    base = rng.integers(20, 90, 3).astype(np.float32)
    blotch = cv2.resize(rng.normal(0, 1, (6, 8)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 2.0) * 3
    ramp = np.linspace(-1, 1, width, dtype=np.float32)[None, :] * rng.uniform(-8, 8)
    texture = blotch * rng.uniform(4, 10) + fine + ramp
    return np.clip(base[None, None, :] + texture[:, :, None], 0, 255).astype(np.float32)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(140, 256, 3))


# ---------------------------------------------------------------------------------------------------- a scene


def _geometry(rng: np.random.Generator, cfg: SceneConfig) -> tuple[list, list, np.ndarray]:
    """A convex quadrilateral zone on one side of the frame and a steep line segment on the other."""
    w, h = cfg.width, cfg.height
    cx, cy = rng.uniform(0.62, 0.7) * w, rng.uniform(0.55, 0.6) * h
    hx, hy = rng.uniform(0.15, 0.18) * w, rng.uniform(0.19, 0.23) * h
    zone = [(cx - hx, cy - hy), (cx + hx, cy - hy), (cx + hx, cy + hy), (cx - hx, cy + hy)]
    zone = [(x + rng.uniform(-8, 8), y + rng.uniform(-8, 8)) for x, y in zone]  # still convex: jitter << size
    lx = rng.uniform(0.2, 0.27) * w
    tilt = rng.uniform(-18, 18)
    line = [(lx - tilt, rng.uniform(0.1, 0.2) * h), (lx + tilt, rng.uniform(0.75, 0.88) * h)]
    if rng.random() < 0.5:  # mirror left/right (not up/down: the anchor is at the box's bottom, so the zone sits low)
        zone = [(w - x, y) for x, y in zone][::-1]
        line = [(w - x, y) for x, y in line]
    d = np.subtract(line[1], line[0])
    normal = np.array([-d[1], d[0]]) / np.linalg.norm(d)
    if rng.random() < 0.5:
        normal = -normal
    zone = [(round(float(x), 1), round(float(y), 1)) for x, y in zone]
    line = [(round(float(x), 1), round(float(y), 1)) for x, y in line]
    return zone, line, np.round(normal, 4)


def _inside_point(rng, zone, inset: float) -> np.ndarray:
    xs, ys = [p[0] for p in zone], [p[1] for p in zone]
    for _ in range(1000):
        p = np.array([rng.uniform(min(xs), max(xs)), rng.uniform(min(ys), max(ys))])
        if point_in_polygon(p[0], p[1], zone) and polygon_distance(p, zone) >= inset:
            return p
    raise RuntimeError("zone too small for the inset")


def _role_paths(role: str, rng, cfg: SceneConfig, zone, line, normal, side: float):
    """``(points, speeds)`` of one role, or of the crossing pair (two of them) for ``cross``."""
    a = cfg.anchor
    fast = lambda: rng.uniform(*cfg.speed)  # noqa: E731
    if role == "stationary":
        i = int(rng.integers(len(zone)))  # near the middle of one edge, so the others have room to move around it
        a0, a1 = np.asarray(zone[i - 1], float), np.asarray(zone[i], float)
        on_edge = a0 + rng.uniform(0.35, 0.65) * (a1 - a0)
        inward = np.mean(zone, axis=0) - on_edge
        return [on_edge + inward / np.linalg.norm(inward) * rng.uniform(16, 22)], [1.0]
    if role == "passer":
        p = _inside_point(rng, zone, 20)
        d = _unit(rng.uniform(0, 2 * math.pi))
        return [_off_frame(p, -d, side, cfg, a), _off_frame(p, d, side, cfg, a)], [fast()]
    if role == "dweller":
        inner = [_inside_point(rng, zone, 14)]
        while len(inner) < 3:
            p = _inside_point(rng, zone, 14)
            if np.linalg.norm(p - inner[-1]) >= 35:
                inner.append(p)
        first = _off_frame(inner[0], _unit(rng.uniform(0, 2 * math.pi)), side, cfg, a)
        last = _off_frame(inner[-1], _unit(rng.uniform(0, 2 * math.pi)), side, cfg, a)
        slow = rng.uniform(*cfg.slow_speed)
        return [first, *inner, last], [fast(), slow, slow, fast()]
    p0, p1 = np.asarray(line[0], float), np.asarray(line[1], float)
    on_line = lambda lo, hi: p0 + rng.uniform(lo, hi) * (p1 - p0)  # noqa: E731
    sign = rng.choice([-1.0, 1.0])
    if role == "line_once":
        x = on_line(0.3, 0.7)
        d = _rotate(sign * normal, rng.uniform(-0.6, 0.6))
        return [_off_frame(x, -d, side, cfg, a), _off_frame(x, d, side, cfg, a)], [fast()]
    if role == "returner":
        u1 = rng.uniform(0.25, 0.75)
        u2 = u1 + rng.choice([-1, 1]) * rng.uniform(0.25, 0.4)
        if not 0.2 <= u2 <= 0.8:
            u2 = u1 - (u2 - u1)
        x1, x2 = p0 + u1 * (p1 - p0), p0 + u2 * (p1 - p0)
        turn = (x1 + x2) / 2 + sign * normal * rng.uniform(45, 70)
        first = _off_frame(x1, x1 - turn, side, cfg, a)
        last = _off_frame(x2, x2 - turn, side, cfg, a)
        v = fast()
        return [first, x1, turn, x2, last], [v, v, v, v]
    if role == "line_miss":
        if rng.random() < 0.5:  # comes close to the line, turns back
            apex = on_line(0.3, 0.7) + sign * normal * rng.uniform(18, 28)
            d_in = _rotate(-sign * normal, rng.uniform(-0.7, 0.7))
            d_out = _rotate(sign * normal, rng.uniform(-0.7, 0.7))
            v = fast()
            return [_off_frame(apex, -d_in, side, cfg, a), apex, _off_frame(apex, d_out, side, cfg, a)], [v, v]
        end = rng.integers(2)  # crosses the infinite line beyond one end of the segment
        out = (p0 - p1) if end == 0 else (p1 - p0)
        x = (p0, p1)[end] + out / np.linalg.norm(out) * rng.uniform(25, 45)
        d = _rotate(sign * normal, rng.uniform(-0.5, 0.5))
        return [_off_frame(x, -d, side, cfg, a), _off_frame(x, d, side, cfg, a)], [fast()]
    if role == "big":
        p = np.array([rng.uniform(0.3, 0.7) * cfg.width, rng.uniform(0.35, 0.75) * cfg.height])
        d = _unit(rng.uniform(0, 2 * math.pi))
        return [_off_frame(p, -d, side, cfg, a), _off_frame(p, d, side, cfg, a)], [fast()]
    raise ValueError(role)


def _crossing_pair(rng, cfg: SceneConfig, sides, zone, line):
    """Two straight paths crossing at X, and the delay of B's start so both pass X together.

    After X, A heads for the line (a point of its middle half) and B for the zone (a point inside), so both have
    events after the crossing, and a tracker that swaps their ids there names the wrong object in them."""
    a = cfg.anchor
    for _ in range(1000):
        x = np.array([rng.uniform(40, cfg.width - 40), rng.uniform(40, cfg.height - 20)])
        if point_in_polygon(x[0], x[1], zone) or polygon_distance(x, zone) < 25 or _segment_distance(x, *line) < 25:
            continue
        dA = np.asarray(line[0], float) + rng.uniform(0.25, 0.75) * np.subtract(line[1], line[0]) - x
        dB = _inside_point(rng, zone, 15) - x
        cos = float(np.dot(dA, dB) / np.linalg.norm(dA) / np.linalg.norm(dB))
        if cos < math.cos(math.radians(100)):  # they meet at 100 degrees or more (180: head-on)
            break
    dA, dB = dA / np.linalg.norm(dA), dB / np.linalg.norm(dB)
    xB = x + _rotate(dB, math.pi / 2) * rng.uniform(-6, 6)  # a small sideways offset
    vA, vB = rng.uniform(*cfg.speed), rng.uniform(*cfg.speed)
    pathA = [_off_frame(x, -dA, sides[0], cfg, a), _off_frame(x, dA, sides[0], cfg, a)]
    pathB = [_off_frame(xB, -dB, sides[1], cfg, a), _off_frame(xB, dB, sides[1], cfg, a)]
    tA = np.linalg.norm(x - pathA[0]) / vA
    tB = np.linalg.norm(xB - pathB[0]) / vB
    return (pathA, [vA]), (pathB, [vB]), tA - tB + rng.uniform(-0.15, 0.15)


def _path_clear(obj: SceneObject, obstacle: SceneObject, gap: float, anchor: str) -> bool:
    """Does ``obj``'s path keep ``gap`` pixels from the box of a still ``obstacle`` (sampled every pixel)?"""
    b = _box(obstacle.points[0], obstacle.side, anchor)
    for p, q in zip(obj.points, obj.points[1:]):
        t = np.linspace(0, 1, int(np.linalg.norm(np.subtract(q, p))) + 2)[:, None]
        a = _boxes(np.asarray(p, float) + t * np.subtract(q, p), obj.side, anchor)
        sep = np.maximum.reduce([b[0] - a[:, 2], a[:, 0] - b[2], b[1] - a[:, 3], a[:, 1] - b[3]])
        if (sep < gap).any():
            return False
    return True


def _frame_boxes(objs, cfg: SceneConfig) -> np.ndarray:
    """``(frames, objects, 4)`` unclipped boxes, NaN where absent (box wholly outside the frame)."""
    times = np.arange(cfg.frames) / cfg.fps
    out = np.full((cfg.frames, len(objs), 4), np.nan)
    for k, o in enumerate(objs):
        anchors = o.anchors(times)
        ok = ~np.isnan(anchors[:, 0])
        x, y = anchors[ok, 0], anchors[ok, 1]
        if cfg.anchor == "bottom_center":
            out[ok, k] = np.stack([x - o.side / 2, y - o.side, x + o.side / 2, y], 1)
        else:
            out[ok, k] = np.stack([x - o.side / 2, y - o.side / 2, x + o.side / 2, y + o.side / 2], 1)
    x1, y1, x2, y2 = (out[..., i] for i in range(4))
    outside = (x2 <= 0) | (y2 <= 0) | (x1 >= cfg.width) | (y1 >= cfg.height)
    out[outside] = np.nan
    return out


def _conflicts(boxes_a: np.ndarray, boxes_b: np.ndarray, gap: float) -> bool:
    """Do two ``(frames, 4)`` box tracks ever come closer than ``gap`` pixels (both present)?"""
    both = ~np.isnan(boxes_a[:, 0]) & ~np.isnan(boxes_b[:, 0])
    a, b = boxes_a[both], boxes_b[both]
    sep = np.maximum.reduce([b[:, 0] - a[:, 2], a[:, 0] - b[:, 2], b[:, 1] - a[:, 3], a[:, 1] - b[:, 3]])
    return bool((sep < gap).any())


def _visibility(objs, boxes: np.ndarray, cfg: SceneConfig) -> np.ndarray:
    """``(frames, objects)`` fraction of each shape's pixels seen (not cut by the frame, not hidden by a later one).

    Each shape is drawn on a small canvas around its own box, with the later shapes that overlap it."""
    vis = np.zeros(boxes.shape[:2])
    for f in range(boxes.shape[0]):
        present = [k for k in range(len(objs)) if not np.isnan(boxes[f, k, 0])]
        for k in present:
            x1, y1, x2, y2 = boxes[f, k]
            ox, oy = int(np.floor(x1)) - 2, int(np.floor(y1)) - 2
            shape = (int(np.ceil(y2)) + 3 - oy, int(np.ceil(x2)) + 3 - ox)
            own = np.zeros(shape, np.uint8)
            draw_shape(own, objs[k].cls, (x1 - ox, y1 - oy, x2 - ox, y2 - oy), (255, 255, 255))
            own = own > 127
            seen = own.copy()
            seen[:, : max(0, -ox)] = False  # off the frame's left / top / right / bottom
            seen[: max(0, -oy), :] = False
            seen[:, max(0, cfg.width - ox) :] = False
            seen[max(0, cfg.height - oy) :, :] = False
            for later in present:
                b = boxes[f, later]
                if later > k and b[0] < x2 and x1 < b[2] and b[1] < y2 and y1 < b[3]:
                    cover = np.zeros(shape, np.uint8)
                    draw_shape(cover, objs[later].cls, (b[0] - ox, b[1] - oy, b[2] - ox, b[3] - oy), (255, 255, 255))
                    seen &= cover <= 127
            vis[f, k] = seen.sum() / max(own.sum(), 1)
    return vis


def _events(objs, boxes: np.ndarray, zone, line, normal, cfg: SceneConfig) -> list[dict]:
    """Every event of every object, from its anchor in consecutive frames (see the module docstring)."""
    events = []
    dwell_frames = int(round(cfg.dwell_s * cfg.fps))
    for k, o in enumerate(objs):
        since = None
        prev = None  # (inside, anchor) in the previous frame
        for f in range(boxes.shape[0]):
            if np.isnan(boxes[f, k, 0]):
                since, prev = None, None
                continue
            p = anchor_of(boxes[f, k], cfg.anchor)
            inside = point_in_polygon(p[0], p[1], zone)
            base = {"subject": o.name, "class": SHAPES[o.cls], "frame": f, "time": round(f / cfg.fps, 3)}
            if prev is not None:
                if inside and not prev[0]:
                    events.append({"rule": "enter", **base})
                elif prev[0] and not inside:
                    events.append({"rule": "leave", **base})
                if crosses_segment(prev[1], p, line):
                    rule = "line_in" if line_side(p, line, normal) > 0 else "line_out"
                    events.append({"rule": rule, **base, "at": round(_crossing_at(prev[1], p, line), 3)})
            if inside:
                since = f if since is None else since
                if f - since == dwell_frames:
                    events.append({"rule": "dwell", **base, "since": since})
            else:
                since = None
            prev = (inside, p)
    return sorted(events, key=lambda e: (e["frame"], e["subject"], e["rule"]))


def _check(objs, boxes, vis, events, zone, line, cfg: SceneConfig, every_rule: bool = True) -> str | None:
    """Why this scene (or these objects alone, ``every_rule=False``) is not clean (None when it is)."""
    rules = {e["rule"] for e in events if e["subject"] not in _suppressed_subjects(objs)}
    if every_rule and (missing := set(RULES) - rules):
        return f"missing rules {sorted(missing)}"
    clear = int(round(cfg.clear_s * cfg.fps))
    index = {o.name: k for k, o in enumerate(objs)}
    by_subject: dict[str, list[dict]] = {}
    for e in events:
        by_subject.setdefault(e["subject"], []).append(e)
        k, f = index[e["subject"]], e["frame"]
        window = range(max(0, f - clear), min(cfg.frames, f + clear + 1))
        for g in window:
            b = boxes[g, k]
            if np.isnan(b[0]) or b[0] < 1 or b[1] < 1 or b[2] > cfg.width - 1 or b[3] > cfg.height - 1:
                return f"{e['rule']} of {e['subject']} at {f} not in full view"
            if vis[g, k] < 0.95:
                return f"{e['rule']} of {e['subject']} at {f} hidden"
    for k, o in enumerate(objs):
        evs = by_subject.get(o.name, [])
        crossings = {"zone": [e["frame"] for e in evs if e["rule"] in ("enter", "leave")],
                     "line": [e["frame"] for e in evs if e["rule"] in ("line_in", "line_out")]}  # fmt: skip
        near = {"zone": [], "line": []}  # (frame, frames) around each crossing where the anchor may be near it
        for what, frames in crossings.items():
            for f in frames:
                a0, a1 = (np.array(anchor_of(boxes[g, k], cfg.anchor)) for g in (f - 1, f))
                step = a1 - a0
                normal_at = _edge_normal((a0 + a1) / 2, line if what == "line" else zone)
                across = abs(float(np.dot(step, normal_at)))
                if across < MIN_CROSSING_SIN * np.linalg.norm(step):
                    return f"{o.name} crosses the {what} at a shallow angle at frame {f}"
                near[what].append((f, int(math.ceil(cfg.margin / across)) + 1))
        for what, frames in crossings.items():
            if any(b - a < 1.5 * cfg.fps for a, b in zip(frames, frames[1:])):
                return f"{o.name} crosses the {what} twice within 1.5 s"
        length = float(np.linalg.norm(np.subtract(line[1], line[0])))
        for e in evs:
            if "at" in e and min(e["at"], 1 - e["at"]) * length < cfg.margin:
                return f"{o.name} crosses the line within {cfg.margin:g} px of its end"
        stays = [e["frame"] for e in evs if e["rule"] == "enter"], [e["frame"] for e in evs if e["rule"] == "leave"]
        for enter, leave in zip(*stays):
            if abs((leave - enter) / cfg.fps - cfg.dwell_s) < 1.0:
                return f"{o.name} stays {(leave - enter) / cfg.fps:.1f} s in the zone (too close to dwell)"
        if (~np.isnan(boxes[:, k, 0])).sum() < 2 * cfg.fps:
            return f"{o.name} is in view for under 2 s"
        if o.always:
            continue
        for f in range(cfg.frames):
            if np.isnan(boxes[f, k, 0]):
                continue
            p = anchor_of(boxes[f, k], cfg.anchor)
            if polygon_distance(p, zone) < cfg.margin and not any(abs(f - g) <= n for g, n in near["zone"]):
                return f"{o.name} lingers near the zone edge at frame {f}"
            if _segment_distance(p, *line) < cfg.margin and not any(abs(f - g) <= n for g, n in near["line"]):
                return f"{o.name} lingers near the line at frame {f}"
    return None


def _suppressed_subjects(objs) -> dict[str, str]:
    return {o.name: ("stationary" if o.role == "stationary" else "area") for o in objs if o.role in ("stationary", "big")}


def _build(seed: int, attempt: int, cfg: SceneConfig):
    """One try at a scene: geometry, then roles placed in time one by one away from each other."""
    rng = np.random.default_rng([seed, attempt])
    zone, line, normal = _geometry(rng, cfg)
    classes = list(rng.permutation(len(SHAPES)))
    cls_of = lambda i: int(classes[i % 3]) if i < 3 else int(rng.integers(3))  # noqa: E731 - every class early on
    order = ["stationary", *rng.permutation([r for r in cfg.roles if r != "stationary"])]
    objs: list[SceneObject] = []
    tracks = np.zeros((cfg.frames, 0, 4))
    span = cfg.seconds
    for role in order:
        for _ in range(150):
            if role == "cross":
                sides = [rng.uniform(*cfg.size), rng.uniform(*cfg.size)]
                (pa, va), (pb, vb), delay = _crossing_pair(rng, cfg, sides, zone, line)
                new = [SceneObject("", "cross_a", 0, (0, 0, 0), sides[0], pa, va),
                       SceneObject("", "cross_b", 0, (0, 0, 0), sides[1], pb, vb, start_s=delay)]  # fmt: skip
            else:
                side = rng.uniform(*(cfg.big_size if role == "big" else cfg.size))
                pts, vs = _role_paths(role, rng, cfg, zone, line, normal, side)
                new = [SceneObject("", role, 0, (0, 0, 0), side, pts, vs, always=role == "stationary")]
            still = [o for o in objs if o.always]
            if still and not all(_path_clear(o, still[0], cfg.gap, cfg.anchor) for o in new):
                continue
            lead = min(o.start_s for o in new)
            length = max(o.start_s + o.duration for o in new) - lead
            if not new[0].always and length > span - 0.5:
                continue
            for _ in range(1 if new[0].always else 25):
                shift = 0.0 if new[0].always else rng.uniform(0.2, span - length - 0.2) - lead
                for o in new:
                    o.start_s += shift
                cand = _frame_boxes(new, cfg)
                if not any(_conflicts(cand[:, i], tracks[:, j], cfg.gap) for i in range(len(new)) for j in range(tracks.shape[1])):
                    break
                for o in new:
                    o.start_s -= shift
            else:
                continue
            for i, o in enumerate(new):
                o.name = f"new{i}"
            alone = _events(new, cand, zone, line, normal, cfg)
            if _check(new, cand, _visibility(new, cand, cfg), alone, zone, line, cfg, every_rule=False):
                continue
            if role == "cross":  # both have an event after their boxes last overlap
                both = np.flatnonzero(~np.isnan(cand[:, 0, 0]) & ~np.isnan(cand[:, 1, 0]))
                met = [f for f in both if _conflicts(cand[f : f + 1, 0], cand[f : f + 1, 1], 0.0)]
                if not met or any(not any(e["frame"] > met[-1] for e in alone if e["subject"] == o.name) for o in new):
                    continue
            objs.extend(new)
            tracks = np.concatenate([tracks, cand], axis=1)
            break
        else:
            return None, f"could not place {role}"
    for i, o in enumerate(objs):
        o.name, o.cls, o.colour = f"obj{i}", cls_of(i), _colour(rng)
    # the crossing pair: which one is drawn on top is random (objects are drawn in list order)
    boxes = _frame_boxes(objs, cfg)
    vis = _visibility(objs, boxes, cfg)
    events = _events(objs, boxes, zone, line, normal, cfg)
    if why := _check(objs, boxes, vis, events, zone, line, cfg):
        return None, why
    a, b = (k for k, o in enumerate(objs) if o.role.startswith("cross_"))
    both = ~np.isnan(boxes[:, a, 0]) & ~np.isnan(boxes[:, b, 0])
    overlap = np.minimum(vis[both, a], vis[both, b]).min(initial=1.0)
    if overlap > 0.9:
        return None, "the crossing pair does not overlap"
    return (rng, zone, line, normal, objs, boxes, vis, events), None


def build_scene(seed: int, cfg: SceneConfig = SceneConfig()) -> dict:
    """The scene of ``seed`` as plain data (what ``make_scene`` writes), plus the arrays it draws from.

    Returns ``{"truth": <the JSON>, "boxes": <the boxes JSON>, "objects": [SceneObject], "render": (rng, boxes)}``.
    """
    reasons = []
    for attempt in range(MAX_ATTEMPTS):
        built, why = _build(seed, attempt, cfg)
        if built:
            break
        reasons.append(why)
    else:
        raise RuntimeError(f"seed {seed}: no clean scene in {MAX_ATTEMPTS} attempts; last reasons {reasons[-5:]}")
    rng, zone, line, normal, objs, boxes, vis, events = built
    suppressed = _suppressed_subjects(objs)
    cross = [o.name for o in objs if o.role.startswith("cross_")]
    k = [i for i, o in enumerate(objs) if o.role.startswith("cross_")]
    both = ~np.isnan(boxes[:, k[0], 0]) & ~np.isnan(boxes[:, k[1], 0])
    frames_overlapping = [int(f) for f in np.flatnonzero(both) if _conflicts(boxes[f : f + 1, k[0]], boxes[f : f + 1, k[1]], 0.0)]
    areas = [o.side**2 for o in objs if o.role != "big"]
    truth = {
        "seed": seed,
        "attempt": attempt,
        "config": {key: (list(v) if isinstance(v, tuple) else v) for key, v in asdict(cfg).items()},
        "frames": cfg.frames,
        "fps": cfg.fps,
        "width": cfg.width,
        "height": cfg.height,
        "anchor": cfg.anchor,
        "zone": [list(p) for p in zone],
        "line": [list(p) for p in line],
        "in_normal": [float(normal[0]), float(normal[1])],
        "dwell_s": cfg.dwell_s,
        "stationary_s": cfg.stationary_s,
        "area_filter": {"min_area": round(0.3 * min(areas)), "max_area": round(2.0 * max(areas))},
        "objects": [
            {"subject": o.name, "class": SHAPES[o.cls], "role": o.role, "colour_bgr": list(o.colour),
             "side": round(o.side, 1), "first_frame": int(np.flatnonzero(~np.isnan(boxes[:, i, 0]))[0]),
             "last_frame": int(np.flatnonzero(~np.isnan(boxes[:, i, 0]))[-1])}
            for i, o in enumerate(objs)
        ],  # fmt: skip
        "stationary": [o.name for o in objs if o.role == "stationary"],
        "crossing_pair": {"subjects": cross, "overlap_frames": frames_overlapping},
        "events": [e for e in events if e["subject"] not in suppressed],
        "suppressed_events": [{**e, "reason": suppressed[e["subject"]]} for e in events if e["subject"] in suppressed],
    }
    clipped = np.stack([np.clip(boxes[..., 0], 0, cfg.width), np.clip(boxes[..., 1], 0, cfg.height),
                        np.clip(boxes[..., 2], 0, cfg.width), np.clip(boxes[..., 3], 0, cfg.height)], -1)  # fmt: skip
    per_object = {}
    for i, o in enumerate(objs):
        frames = np.flatnonzero(~np.isnan(boxes[:, i, 0]))
        per_object[o.name] = {
            "class": SHAPES[o.cls],
            "first": int(frames[0]),
            "boxes": [[round(float(v), 1) for v in clipped[f, i]] + [round(float(vis[f, i]), 3)] for f in frames],
        }
    box_json = {"frames": cfg.frames, "format": "per object: first frame, then [x1, y1, x2, y2, visible] per frame "
                "(box clipped to the frame; visible = fraction of the shape seen)", "objects": per_object}  # fmt: skip
    return {"truth": truth, "boxes": box_json, "objects": objs, "render": (rng, boxes)}


def render_frames(scene: dict, cfg: SceneConfig = SceneConfig()):
    """Yield the BGR uint8 frames of a scene from :func:`build_scene`."""
    rng, boxes = scene["render"]
    rng = np.random.default_rng([scene["truth"]["seed"], 99991])  # independent of how many tries the layout took
    bg = background(rng, cfg.width, cfg.height)
    objs = scene["objects"]
    for f in range(boxes.shape[0]):
        frame = bg + rng.normal(0, cfg.noise, bg.shape).astype(np.float32)
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        for k, o in enumerate(objs):
            if not np.isnan(boxes[f, k, 0]):
                draw_shape(frame, o.cls, boxes[f, k], o.colour)
        yield frame


def make_scene(out_dir, seed: int = 0, cfg: SceneConfig = SceneConfig()) -> dict[str, Path]:
    """Write ``scene_<seed>.mp4``, ``scene_<seed>.json`` and ``scene_<seed>.boxes.json`` into ``out_dir``.

    Returns ``{"video": ..., "truth": ..., "boxes": ...}``. Deterministic: the same seed and config give the same
    files (the MP4 encoder aside, which is deterministic for a given OpenCV build)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)  # OpenCV's VideoWriter writes nothing, silently, into a missing folder
    scene = build_scene(seed, cfg)
    paths = {"video": out / f"scene_{seed}.mp4", "truth": out / f"scene_{seed}.json", "boxes": out / f"scene_{seed}.boxes.json"}
    writer = cv2.VideoWriter(str(paths["video"]), cv2.VideoWriter_fourcc(*"mp4v"), cfg.fps, (cfg.width, cfg.height))
    for frame in render_frames(scene, cfg):
        writer.write(frame)
    writer.release()
    paths["truth"].write_text(json.dumps(scene["truth"], indent=1))
    paths["boxes"].write_text(json.dumps(scene["boxes"], separators=(",", ":")))
    return paths


def load_scene(truth_json) -> tuple[dict, dict]:
    """``(truth, boxes)``: the two JSON files of a scene, from the path of ``scene_<seed>.json``."""
    truth_json = Path(truth_json)
    boxes = truth_json.with_name(truth_json.name.replace(".json", ".boxes.json"))
    return json.loads(truth_json.read_text()), json.loads(boxes.read_text())


# ---------------------------------------------------------------------------------------------------- training


def _training_image(rng, cfg: SceneConfig, big_p: float, overlap_p: float, cut_p: float) -> tuple[np.ndarray, list[str]]:
    w, h = cfg.width, cfg.height
    image = np.clip(background(rng, w, h) + rng.normal(0, cfg.noise, (h, w, 3)), 0, 255).astype(np.uint8)
    placed: list[tuple[int, tuple]] = []
    for _ in range(int(rng.integers(2, 8))):
        big = rng.random() < big_p
        side = rng.uniform(*(cfg.big_size if big else cfg.size)) * rng.uniform(0.85, 1.12)
        overlap_ok = rng.random() < overlap_p  # some shapes cross others: partly hidden, like the crossing pair
        for _ in range(30):
            cut = rng.random() < cut_p  # some are cut by the frame's edge
            lo, hi = (-0.5 * side, w - 0.5 * side) if cut else (2, w - side - 2)
            x1 = rng.uniform(lo, hi)
            lo, hi = (-0.5 * side, h - 0.5 * side) if cut else (2, h - side - 2)
            y1 = rng.uniform(lo, hi)
            box = (x1, y1, x1 + side, y1 + side)
            clash = [b for _, b in placed if not (box[2] + 4 < b[0] or b[2] + 4 < box[0] or box[3] + 4 < b[1] or b[3] + 4 < box[1])]
            if not clash or (overlap_ok and len(clash) == 1):
                placed.append((int(rng.integers(3)), box))
                break
    labels, masks = [], []
    pad = int(max(cfg.big_size) * 1.2)
    for cls, box in placed:
        m = np.zeros((h + 2 * pad, w + 2 * pad), np.uint8)
        draw_shape(m, cls, np.add(box, pad), (255, 255, 255))
        masks.append(m > 127)
    for i, (cls, box) in enumerate(placed):
        draw_shape(image, cls, box, _colour(rng))
        seen = masks[i][pad : pad + h, pad : pad + w].copy()
        for later in masks[i + 1 :]:
            seen &= ~later[pad : pad + h, pad : pad + w]
        if seen.sum() < 0.35 * masks[i].sum():
            continue  # mostly hidden or cut: no label (and it is drawn anyway, as in a video)
        x1, y1, x2, y2 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
        labels.append(f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    return image, labels


def make_training_set(root, train: int = 300, val: int = 40, seed: int = 0, cfg: SceneConfig = SceneConfig(),
                      big: float = 0.2, overlap: float = 0.3, cut: float = 0.2) -> Path:  # fmt: skip
    """Draw a detector dataset of scene-like frames under ``root``; returns ``root/../<root name>.yaml``.

    Each image is a ``cfg.width`` x ``cfg.height`` frame with 2-7 shapes (a fraction ``big`` of them big), a
    fraction ``cut`` cut by the frame's edge, a fraction ``overlap`` allowed to overlap one other shape (the top
    one hides part of it; a shape with under 35 % of its pixels seen gets no label), saved as JPEG quality 70-95.
    Boxes of cut shapes are clipped to the frame, boxes of hidden shapes are their whole box: the same convention
    as ``scene_<seed>.boxes.json``. 300 + 40 images take about 10 s and 5 MB."""
    root = Path(root)
    rng = np.random.default_rng([seed, 424242])
    for split, count in (("train", train), ("val", val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image, labels = _training_image(rng, cfg, big, overlap, cut)
            quality = int(rng.integers(70, 96))
            cv2.imwrite(str(root / "images" / split / f"{i:04d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            (root / "labels" / split / f"{i:04d}.txt").write_text("".join(f"{line}\n" for line in labels))
    data = root.with_suffix(".yaml")
    names = "".join(f"  {i}: {name}\n" for i, name in enumerate(SHAPES))
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    return data


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__.split("Usage::")[1])
    out = Path(argv[0])
    if "--train" in argv:
        start = time.perf_counter()
        print(make_training_set(out / "shapes"), f"{time.perf_counter() - start:.1f} s")
        return
    for seed in [int(s) for s in argv[1:]] or [0, 1, 2]:
        start = time.perf_counter()
        paths = make_scene(out, seed)
        truth = json.loads(paths["truth"].read_text())
        counts = {r: sum(e["rule"] == r for e in truth["events"]) for r in RULES}
        print(f"seed {seed}: {paths['video']} ({paths['video'].stat().st_size / 1e6:.2f} MB, attempt {truth['attempt']}, "
              f"{time.perf_counter() - start:.1f} s) events {counts}, suppressed {len(truth['suppressed_events'])}")


if __name__ == "__main__":
    main(sys.argv[1:])
