"""Legends of index values and what is drawn from them: bins with their areas, a PNG of
the index coloured by its bins with the legend beside it (Pillow), and an SLD style
(ElementTree). Pure functions of arrays and bins, so they test without a server.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MAP_SIZE = 256  # pixels a side of the index image
PANEL_WIDTH = 168  # the legend panel right of it
ROW_HEIGHT = 18
MARGIN = 8
SWATCH = 14
DEFAULT_BINS = 5
LABELS = {
    3: ("Low", "Moderate", "High"),
    5: ("Very Low", "Low", "Moderate", "High", "Very High"),
}
SLD_NS = "http://www.opengis.net/sld"


@dataclass(frozen=True)
class Bin:
    min: float
    max: float
    color: str  # #rrggbb
    label: str


@dataclass(frozen=True)
class LegendItem:
    bin: Bin
    area: float
    area_percentage: float


def colour_at(stops: Sequence[str], t: float) -> tuple[int, int, int]:
    """The colormap's colour at `t` in [0, 1], interpolated between its stops."""
    rgb = np.array([[int(s[i : i + 2], 16) for i in (1, 3, 5)] for s in stops], dtype=float)
    position = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    low = int(np.floor(position))
    high = min(low + 1, len(stops) - 1)
    mixed = rgb[low] + (rgb[high] - rgb[low]) * (position - low)
    red, green, blue = (int(c + 0.5) for c in mixed)
    return red, green, blue


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def default_label(position: int, count: int) -> str:
    names = LABELS.get(count)
    return names[position] if names else f"Class {position + 1}"


def equal_bins(
    low: float,
    high: float,
    count: int,
    stops: Sequence[str],
    given: Sequence[tuple[str | None, str | None]] = (),
) -> tuple[Bin, ...]:
    """`count` equal intervals from low to high, coloured from the colormap at their
    centres (or by `given` (color, label) pairs, in order, where given)."""
    if not high > low:  # one value everywhere: a bin of width 1 around nothing
        high = low + 1.0
    edges = np.linspace(low, high, count + 1)
    bins = []
    for i in range(count):
        color, label = given[i] if i < len(given) else (None, None)
        bins.append(
            Bin(
                min=round(float(edges[i]), 6),
                max=round(float(edges[i + 1]), 6),
                color=color or hex_colour(colour_at(stops, (i + 0.5) / count)),
                label=label or default_label(i, count),
            )
        )
    return tuple(bins)


def value_range(values: np.ndarray) -> tuple[float, float]:
    """The lowest and highest valid (finite) value; (0, 1) when there is none."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())


def classify(values: np.ndarray, bins: Sequence[Bin]) -> np.ndarray:
    """Each value's bin number (values beyond the ends fall in the end bins); -1 for no data."""
    uppers = np.array([b.max for b in bins[:-1]])
    classes = np.searchsorted(uppers, values, side="left")
    return np.where(np.isfinite(values), classes, -1)


def measure(values: np.ndarray, bins: Sequence[Bin], area: float) -> tuple[LegendItem, ...]:
    """Each bin's share of the valid pixels, and that share of `area` (square metres)."""
    classes = classify(values, bins)
    valid = int((classes >= 0).sum())
    counts = np.bincount(classes[classes >= 0].ravel(), minlength=len(bins))
    return tuple(
        LegendItem(
            bin=b,
            area=round(area * int(counts[i]) / valid, 2) if valid else 0.0,
            area_percentage=round(100.0 * int(counts[i]) / valid, 4) if valid else 0.0,
        )
        for i, b in enumerate(bins)
    )


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def classified_rgba(values: np.ndarray, bins: Sequence[Bin]) -> np.ndarray:
    """An RGBA image of the values, each pixel its bin's colour, no data transparent."""
    palette = np.array([[*_rgb(b.color), 255] for b in bins] + [[0, 0, 0, 0]], dtype=np.uint8)
    return palette[classify(values, bins)]  # -1 picks the transparent last row


def stretched_rgba(
    channels: Sequence[np.ndarray], low: float, high: float, stops: Sequence[str]
) -> np.ndarray:
    """One channel through the colormap, or three as red, green and blue, stretched from
    low to high; a pixel with no data in any channel is transparent."""
    scaled = [np.clip((c - low) / (high - low), 0.0, 1.0) for c in channels]
    valid = np.logical_and.reduce([np.isfinite(c) for c in channels])
    if len(scaled) == 3:
        rgb = np.stack([np.nan_to_num(s) * 255 for s in scaled], axis=-1)
    else:
        lut = np.array([colour_at(stops, i / 255) for i in range(256)], dtype=float)
        rgb = lut[(np.nan_to_num(scaled[0]) * 255).astype(int)]
    alpha = np.where(valid, 255, 0)[..., None]
    return np.concatenate([rgb, alpha], axis=-1).astype(np.uint8)


def png(rgba: np.ndarray, legend: Sequence[Bin] = ()) -> bytes:
    """The image scaled to MAP_SIZE pixels a side, and, given bins, a legend panel on its
    right: one swatch of the bin's colour and its label (with its bounds) per row."""
    picture = Image.fromarray(rgba, "RGBA").resize((MAP_SIZE, MAP_SIZE), Image.Resampling.NEAREST)
    if legend:
        height = max(MAP_SIZE, 2 * MARGIN + ROW_HEIGHT * len(legend))
        canvas = Image.new("RGBA", (MAP_SIZE + PANEL_WIDTH, height), (255, 255, 255, 255))
        canvas.paste(picture, (0, 0))
        draw = ImageDraw.Draw(canvas)
        font = ImageFont.load_default()
        for row, b in enumerate(legend):
            left, top = swatch_origin(row)
            draw.rectangle((left, top, left + SWATCH - 1, top + SWATCH - 1), fill=_rgb(b.color))
            draw.text(
                (left + SWATCH + 6, top + 1),
                f"{b.label} ({b.min:.3g} to {b.max:.3g})",
                fill=(0, 0, 0),
                font=font,
            )
        picture = canvas
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def swatch_origin(row: int) -> tuple[int, int]:
    """Where the legend's swatch of bin `row` starts (left, top), in the PNG."""
    return MAP_SIZE + MARGIN, MARGIN + row * ROW_HEIGHT


def sld(name: str, bins: Sequence[Bin]) -> str:
    """An SLD 1.0.0 style of a raster: an `intervals` colour map, one entry per bin
    (`quantity`: its upper bound)."""
    # the default namespace as an attribute: no registration in ElementTree's global table
    root = ET.Element("StyledLayerDescriptor", {"xmlns": SLD_NS, "version": "1.0.0"})
    layer = ET.SubElement(root, "NamedLayer")
    ET.SubElement(layer, "Name").text = name
    style = ET.SubElement(layer, "UserStyle")
    ET.SubElement(style, "Title").text = name
    symbolizer = ET.SubElement(
        ET.SubElement(ET.SubElement(style, "FeatureTypeStyle"), "Rule"), "RasterSymbolizer"
    )
    colour_map = ET.SubElement(symbolizer, "ColorMap", {"type": "intervals"})
    for b in bins:
        entry = {"color": b.color, "quantity": repr(b.max), "label": b.label, "opacity": "1"}
        ET.SubElement(colour_map, "ColorMapEntry", entry)
    return ET.tostring(root, encoding="unicode")
