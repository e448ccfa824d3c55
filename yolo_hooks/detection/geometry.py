"""Where a box is: its anchor point, zones (polygons) and lines, in pixels or in 0-1 fractions of the frame.

Plain math over plain numbers, used by the pure rules (:mod:`yolo_hooks.detection.rules`). A length or an area
below 1 is a fraction of the frame (of its shorter side, of its area), from 1 up it is pixels: the same
convention as a zone whose coordinates all lie within 0-1.

Examples:
    >>> line = Line(((100, 0), (100, 200)))  # a vertical line: its in side is on the right, as in Ultralytics
    >>> line.position(110, 50, 640, 480)
    (10.0, 0.25)
    >>> Zone(((0, 0), (0.5, 0), (0.5, 1), (0, 1)), normalized=True).contains(100, 100, 640, 480)
    True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

ANCHORS = ("bottom_center", "center", "top_center", "bottom_left", "bottom_right", "top_left", "top_right")
Point = tuple[float, float]


def anchor_point(box: tuple[float, float, float, float], anchor: str) -> Point:
    """The point of ``box`` (x1, y1, x2, y2) that must lie in a zone or cross a line."""
    return ANCHOR_OF[anchor](box)


ANCHOR_OF = {  # one function per anchor: this runs for every box of every busy frame
    "bottom_center": lambda b: ((b[0] + b[2]) / 2, b[3]),
    "center": lambda b: ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2),
    "top_center": lambda b: ((b[0] + b[2]) / 2, b[1]),
    "bottom_left": lambda b: (b[0], b[3]),
    "bottom_right": lambda b: (b[2], b[3]),
    "top_left": lambda b: (b[0], b[1]),
    "top_right": lambda b: (b[2], b[1]),
}


def length_in_pixels(value: float, width: int, height: int) -> float:
    """``value`` below 1: that fraction of the frame's shorter side; from 1 up: pixels."""
    return value * min(width, height) if value < 1 else value


def area_in_pixels(value: float, width: int, height: int) -> float:
    """``value`` below 1: that fraction of the frame's area; from 1 up: square pixels."""
    return value * width * height if value < 1 else value


@functools.lru_cache(maxsize=256)
def _scaled(points: tuple[Point, ...], normalized: bool, width: int, height: int) -> tuple[Point, ...]:
    return tuple((x * width, y * height) for x, y in points) if normalized else points


def _segment_distance(x: float, y: float, a: Point, b: Point) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy or 1.0)))
    return math.hypot(x - ax - t * dx, y - ay - t * dy)


@dataclass(frozen=True)
class Zone:
    """A polygon in pixels, or in 0-1 fractions of the frame's width and height (``normalized``)."""

    points: tuple[Point, ...]
    normalized: bool = False

    def pixels(self, width: int, height: int) -> tuple[Point, ...]:
        """The polygon in pixels of a ``width`` x ``height`` frame."""
        return _scaled(self.points, self.normalized, width, height)

    def contains(self, x: float, y: float, width: int, height: int) -> bool:
        """Is the point inside (even-odd rule; a point on the left/bottom edge counts as inside)?"""
        pts = self.pixels(width, height)
        inside = False
        j = len(pts) - 1
        for i in range(len(pts)):
            (xi, yi), (xj, yj) = pts[i], pts[j]
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
            j = i
        return inside

    def edge_distance(self, x: float, y: float, width: int, height: int) -> float:
        """Distance in pixels from the point to the polygon's nearest edge."""
        pts = self.pixels(width, height)
        return min(_segment_distance(x, y, pts[i - 1], pts[i]) for i in range(len(pts)))


@dataclass(frozen=True)
class Line:
    """A segment between two points, in pixels or 0-1 fractions of the frame (``normalized``).

    Crossing it **in** is moving right over a mostly vertical line, down over a mostly horizontal one (wider than
    tall): Ultralytics' ``ObjectCounter`` convention; ``out`` is the other way. The order of the points does not
    matter."""

    points: tuple[Point, Point]
    normalized: bool = False

    def pixels(self, width: int, height: int) -> tuple[Point, ...]:
        return _scaled(self.points, self.normalized, width, height)

    def position(self, x: float, y: float, width: int, height: int) -> tuple[float, float]:
        """``(distance, along)``: the signed distance in pixels from the line through the segment, positive on
        its in side, and where the point's projection falls along the segment (0 at its first point, 1 at its
        second; outside 0-1 beyond its ends)."""
        (ax, ay), (bx, by) = self.pixels(width, height)
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        nx, ny = -dy / length, dx / length  # a unit normal, turned to point right (vertical line) or down
        if (nx < 0) if abs(dx) < abs(dy) else (ny < 0):
            nx, ny = -nx, -ny
        return (x - ax) * nx + (y - ay) * ny, ((x - ax) * dx + (y - ay) * dy) / (length * length)
