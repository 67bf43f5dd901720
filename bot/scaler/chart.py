"""A scaling group's recent history as a PNG: load and target (in replica units) and replicas.

matplotlib's object API on an Agg canvas: no display, no pyplot global state, so charts can be
drawn in worker threads at the same time.
"""

from __future__ import annotations

import io
from datetime import datetime

import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.store.scaling import Sample


def render_chart(group: str, samples: list[Sample], window_label: str) -> bytes:
    """PNG bytes. Load is the work done, in replicas at 100%; the target line is the replicas
    the load needs at the target CPU (load / target)."""
    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    times = [datetime.fromtimestamp(s.at) for s in samples]
    replicas = [s.replicas for s in samples]
    ready = [s.ready for s in samples]
    load = [s.load if s.load is not None else float("nan") for s in samples]
    needed = [(s.load / s.target) if s.load is not None and s.target else float("nan")
              for s in samples]
    if samples:
        ax.step(times, replicas, where="post", label="replicas", color="tab:blue")
        ax.step(times, ready, where="post", label="ready", color="tab:cyan",
                linestyle=":")
        ax.plot(times, load, label="load (replicas at 100% CPU)", color="tab:red")
        ax.plot(times, needed, label="needed at target CPU", color="tab:orange",
                linestyle="--")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        ax.legend(loc="upper left", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no samples yet", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_title(f"Scaling group {group} - last {window_label}")
    ax.set_ylabel("replicas")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()
