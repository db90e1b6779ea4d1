"""Small line charts drawn with Pillow into PNG bytes, for the self-contained HTML reports.

The dashboard's charts are Plotly (interactive, drawn by the browser from a CDN-free bundle), which a saved
HTML file could only carry as megabytes of JavaScript; a report needs a picture, so these few are drawn here.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from PIL import Image, ImageDraw, ImageFont

PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127))
WIDTH, HEIGHT = 640, 360
MARGIN = (64, 40, 20, 52)  # left, top, right, bottom


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # a Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / (count - 1) if high > low else 1.0
    return [low + i * step for i in range(count)]


def line_chart_png(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str, x_label: str,
                   y_label: str, y_range: tuple[float, float] | None = None, diagonal: bool = False) -> bytes:
    """PNG of one line per series (name -> (xs, ys)); `diagonal` draws the y = x reference of ROC and reliability plots."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font, small = _font(14), _font(11)
    points = [(float(x), float(y)) for xs, ys in series.values() for x, y in zip(xs, ys, strict=False)]
    xs_all = [p[0] for p in points] or [0.0, 1.0]
    ys_all = [p[1] for p in points] or [0.0, 1.0]
    x_low, x_high = min(xs_all), max(xs_all)
    y_low, y_high = y_range or (min(ys_all), max(ys_all))
    if x_high == x_low:
        x_low, x_high = x_low - 0.5, x_high + 0.5
    if y_high == y_low:
        y_low, y_high = y_low - 0.5, y_high + 0.5
    left, top, right, bottom = MARGIN
    plot_w, plot_h = WIDTH - left - right, HEIGHT - top - bottom

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (x - x_low) / (x_high - x_low) * plot_w, top + (1 - (y - y_low) / (y_high - y_low)) * plot_h)

    draw.text((left, 10), title, fill="black", font=font)
    draw.rectangle((left, top, left + plot_w, top + plot_h), outline=(160, 160, 160))
    for value in _ticks(y_low, y_high):
        _, y = at(x_low, value)
        draw.line((left, y, left + plot_w, y), fill=(235, 235, 235))
        draw.text((4, y - 7), f"{value:.3g}", fill=(80, 80, 80), font=small)
    for value in _ticks(x_low, x_high):
        x, _ = at(value, y_low)
        draw.text((x - 10, top + plot_h + 4), f"{value:.3g}", fill=(80, 80, 80), font=small)
    draw.text((left + plot_w // 2 - 40, HEIGHT - 20), x_label, fill="black", font=small)
    draw.text((4, top - 16), y_label, fill="black", font=small)
    if diagonal:
        draw.line((*at(max(x_low, y_low), max(x_low, y_low)), *at(min(x_high, y_high), min(x_high, y_high))),
                  fill=(170, 170, 170), width=1)
    for index, (name, (xs, ys)) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        line = [at(float(x), float(y)) for x, y in zip(xs, ys, strict=False)]
        if len(line) > 1:
            draw.line(line, fill=colour, width=2)
        for x, y in line if len(line) <= 40 else []:
            draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), fill=colour)
        legend_y = top + 6 + 16 * index
        draw.rectangle((left + plot_w - 170, legend_y + 4, left + plot_w - 158, legend_y + 12), fill=colour)
        draw.text((left + plot_w - 152, legend_y), name[:24], fill="black", font=small)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
