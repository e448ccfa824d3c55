"""The review page of an alerts folder, ``index.html``: a static page that opens from the folder itself.

A grid of events, newest first, each with its best frame (its first until it ends), rule, camera, class, time and
duration; filters by rule, camera, class and day (kept in the address, ``index.html#camera=gate&day=2026-12-01``,
so a filtered view can be bookmarked); clicking an event shows its images, its clip (the contact sheet played frame
by frame, and the MP4 when there is one) and its records. The events are embedded in the page as JSON: no server,
no request, nothing fetched. :func:`render` is pure; :mod:`~yolo_hooks.detection.folder` writes the page
atomically as records arrive, and ``yolo-hooks review DIR`` serves the folder on loopback.

Examples:
    >>> html = render([{"kind": "detection", "event_id": "e1", "rule": "gate", "camera": "cam", "class": "person",
    ...                 "time": "2026-12-01T20:26:28.340Z", "wall": 0.0, "image": "/a/gate_e1_frame3.jpg"}], "alerts")
    >>> '"thumb": "gate_e1_frame3.jpg"' in html
    True
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

MAX_EVENTS = 2000  # the newest events shown; alerts.jsonl keeps every one
RECORD_KEYS_HIDDEN = ("files", "bytes", "wall")


def _name(path: Any) -> str | None:
    return Path(str(path)).name if path else None


def events_of(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of a folder's record summaries, newest first (at most :data:`MAX_EVENTS`)."""
    events: dict[str, dict[str, Any]] = {}
    for s in summaries:
        event = events.get(s["event_id"])
        if event is None:
            event = events[s["event_id"]] = {
                "id": s["event_id"], "rule": s.get("rule"), "camera": s.get("camera") or "", "cls": s.get("class") or "",
                "start": s.get("time"), "wall": s.get("wall", 0.0), "duration": None, "alerts": 0, "records": [],
                "message": s.get("message"), "image": None, "best": None, "sheet": None, "tiles": None, "clip": None,
            }  # fmt: skip
        event["records"].append({k: v for k, v in s.items() if k not in RECORD_KEYS_HIDDEN})
        if s.get("kind") == "detection_end":
            event.update(duration=s.get("duration"), frames=s.get("frames"), best_conf=s.get("best_conf"),
                         best=_name(s.get("image")), end_message=s.get("message"))  # fmt: skip
        else:
            event["alerts"] += 1
            if event["image"] is None:
                event.update(image=_name(s.get("image")), sheet=_name(s.get("sheet")), tiles=s.get("sheet_tiles"),
                             clip=_name(s.get("clip")))  # fmt: skip
    for event in events.values():
        event["thumb"] = event["best"] or event["image"]
    return sorted(events.values(), key=lambda e: e["wall"], reverse=True)[:MAX_EVENTS]


def render(summaries: list[dict[str, Any]], title: str) -> str:
    """The whole page, its events embedded as JSON."""
    data = json.dumps(events_of(summaries), ensure_ascii=False, default=str, indent=None)
    data = data.replace("</", "<\\/")  # never closes the script element it sits in
    return PAGE.replace("{{title}}", html.escape(title)).replace("{{events}}", data)


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Detection alerts — {{title}}</title>
<style>
  :root { color-scheme: light dark; --card: #8881; --line: #8884; --accent: #d33; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; }
  header { position: sticky; top: 0; padding: .6rem 1rem; display: flex; gap: .6rem; flex-wrap: wrap;
           align-items: center; background: Canvas; border-bottom: 1px solid var(--line); z-index: 1; }
  header h1 { font-size: 1.1rem; margin: 0 1rem 0 0; }
  select { font: inherit; padding: .2rem; }
  #count { margin-left: auto; opacity: .8; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: .8rem; padding: 1rem; }
  .event { background: var(--card); border: 1px solid var(--line); border-radius: 6px; overflow: hidden;
           cursor: pointer; }
  .event:hover { outline: 2px solid var(--accent); }
  .event img { width: 100%; aspect-ratio: 3 / 2; object-fit: cover; display: block; background: #0003; }
  .event .text { padding: .4rem .6rem; }
  .event .rule { font-weight: 600; }
  .event .meta { opacity: .8; font-size: .9em; }
  .open { color: var(--accent); }
  dialog { max-width: min(1100px, 95vw); width: 95vw; border: 1px solid var(--line); border-radius: 8px; }
  dialog .media { display: flex; flex-wrap: wrap; gap: .6rem; }
  dialog figure { margin: 0; flex: 1 1 320px; }
  dialog figure img, dialog video { max-width: 100%; display: block; }
  .flip { width: 320px; max-width: 100%; aspect-ratio: 4 / 3; background-repeat: no-repeat; }
  pre { max-height: 40vh; overflow: auto; background: var(--card); padding: .6rem; font-size: 12px; }
  .empty { padding: 2rem; opacity: .7; }
</style>
</head>
<body>
<header>
  <h1>Detection alerts</h1>
  <label>rule <select id="f-rule" data-key="rule"></select></label>
  <label>camera <select id="f-camera" data-key="camera"></select></label>
  <label>class <select id="f-cls" data-key="cls"></select></label>
  <label>day <select id="f-day" data-key="day"></select></label>
  <span id="count"></span>
</header>
<main id="grid"></main>
<dialog id="sheet"><form method="dialog"><button>close</button></form><div id="sheet-body"></div></dialog>
<script id="events" type="application/json">{{events}}</script>
<script>
"use strict";
const events = JSON.parse(document.getElementById("events").textContent);
const grid = document.getElementById("grid");
const filters = [...document.querySelectorAll("header select")];
const pad = (n) => String(n).padStart(2, "0");
const dayOf = (iso) => { const d = new Date(iso); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; };
const timeOf = (iso) => new Date(iso).toLocaleString();
const seconds = (s) => s == null ? "ongoing" : (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c != null));
  return node;
};
for (const e of events) e.day = e.start ? dayOf(e.start) : "";

function fillFilters() {
  for (const select of filters) {
    const key = select.dataset.key;
    const values = [...new Set(events.map((e) => e[key]).filter((v) => v !== ""))].sort();
    if (key === "day") values.reverse();
    select.replaceChildren(el("option", { value: "", textContent: `all (${values.length})` }),
                           ...values.map((v) => el("option", { value: v, textContent: v })));
  }
}

function card(e) {
  const node = el("article", { className: "event", tabIndex: 0 },
    e.thumb ? el("img", { src: e.thumb, alt: e.message || e.rule, loading: "lazy" }) : null,
    el("div", { className: "text" },
      el("div", { className: "rule", textContent: e.rule }),
      el("div", { className: "meta", textContent: `${e.camera} · ${e.cls}` }),
      el("div", { className: "meta", textContent: timeOf(e.start) }),
      el("div", { className: "meta" + (e.duration == null ? " open" : ""), textContent: seconds(e.duration) })));
  Object.assign(node.dataset, { rule: e.rule, camera: e.camera, cls: e.cls, day: e.day, id: e.id });
  node.addEventListener("click", () => show(e));
  node.addEventListener("keydown", (ev) => { if (ev.key === "Enter") show(e); });
  return node;
}

function flipbook(e) {
  if (!e.sheet || !e.tiles || e.tiles < 2) return null;
  const cols = Math.min(e.tiles, Math.max(1, Math.ceil(Math.sqrt(e.tiles))));
  const rows = Math.ceil(e.tiles / cols);
  const box = el("div", { className: "flip", title: "the contact sheet played frame by frame" });
  box.style.backgroundImage = `url("${e.sheet}")`;
  box.style.backgroundSize = `${cols * 100}% ${rows * 100}%`;
  let i = 0;
  const step = () => {
    const c = i % cols, r = Math.floor(i / cols);
    box.style.backgroundPosition = `${cols > 1 ? (c * 100) / (cols - 1) : 0}% ${rows > 1 ? (r * 100) / (rows - 1) : 0}%`;
    i = (i + 1) % e.tiles;
  };
  step();
  box.timer = setInterval(step, 200);
  return box;
}

function figure(caption, content) {
  return content ? el("figure", {}, content, el("figcaption", { textContent: caption })) : null;
}

function show(e) {
  const body = document.getElementById("sheet-body");
  for (const old of body.querySelectorAll(".flip")) clearInterval(old.timer);
  const image = (src) => src ? el("a", { href: src, target: "_blank" }, el("img", { src })) : null;
  body.replaceChildren(
    el("h2", { textContent: `${e.rule} — ${e.camera}` }),
    el("p", { textContent: `${e.message || ""} · ${timeOf(e.start)} · ${seconds(e.duration)}` +
                           (e.best_conf != null ? ` · best confidence ${e.best_conf}` : "") }),
    el("div", { className: "media" },
      figure("best frame", image(e.best)), figure("first frame", image(e.image)),
      figure("clip", flipbook(e)),
      figure("clip (MP4)", e.clip ? el("a", { href: e.clip, textContent: e.clip }) : null),
      figure("contact sheet", image(e.sheet))),
    el("h3", { textContent: "records" }),
    el("pre", { textContent: e.records.map((r) => JSON.stringify(r, null, 1)).join("\\n") }));
  document.getElementById("sheet").showModal();
}

function apply() {
  const wanted = Object.fromEntries(filters.map((s) => [s.dataset.key, s.value]));
  let shown = 0;
  for (const node of grid.children) {
    const ok = Object.entries(wanted).every(([k, v]) => !v || node.dataset[k] === v);
    node.hidden = !ok;
    shown += ok;
  }
  document.getElementById("count").textContent = `${shown} of ${events.length} events`;
  const hash = new URLSearchParams(Object.entries(wanted).filter(([, v]) => v)).toString();
  if (location.hash.slice(1) !== hash) history.replaceState(null, "", hash ? `#${hash}` : location.pathname);
}

function fromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const select of filters) select.value = params.get(select.dataset.key) || "";
}

fillFilters();
grid.replaceChildren(...events.map(card));
if (!events.length) grid.append(el("p", { className: "empty", textContent: "No events yet." }));
fromHash();
apply();
for (const select of filters) select.addEventListener("change", apply);
window.addEventListener("hashchange", () => { fromHash(); apply(); });
</script>
</body>
</html>
"""
