"""Real raster files, written with rasterio and Pillow: Cloud-Optimized GeoTIFFs of the
archive's items and of job packages, and PNG thumbnails.

Every pixel derives from a seed, so the same item (or package) always gives the same
bytes: a smooth seeded field per band (a few low-frequency waves), which looks like
terrain in a viewer and compresses to a few kilobytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from PIL import Image
from rasterio.features import geometry_mask
from rasterio.io import MemoryFile

Bounds = tuple[float, float, float, float]  # (west, south, east, north) in the raster's CRS
RASTER_SIZE = 32  # pixels a side: tens of pixels, as small as a real file can usefully be
BLOCK_SIZE = 16  # the COG's tiles; a 32-pixel raster gets one overview (16 pixels)
REFLECTANCE_SCALE = 10_000  # uint16 rasters hold reflectance x 10,000 (scale 0.0001)


def synthetic_bands(count: int, size: int, seed: int) -> np.ndarray:
    """`count` bands of `size` x `size` floats in [0, 1): seeded waves, one mix per band."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    waves = rng.uniform(0.5, 3.0, size=(4, 2))
    phases = rng.uniform(0, 2 * np.pi, size=4)
    base = sum(
        np.sin(2 * np.pi * (fx * x + fy * y) + p) for (fx, fy), p in zip(waves, phases, strict=True)
    )
    base = (base - base.min()) / (np.ptp(base) or 1.0)
    gains = rng.uniform(0.15, 0.6, size=count)
    offsets = rng.uniform(0.02, 0.2, size=count)
    return np.clip(offsets[:, None, None] + gains[:, None, None] * base, 0.0, 0.999)


def write_geotiff(
    band_names: Sequence[str],
    bounds: Bounds,
    crs: str,
    seed: int,
    size: int | tuple[int, int] = RASTER_SIZE,
    dtype: str = "uint16",
    footprint: dict[str, Any] | None = None,
) -> bytes:
    """A Cloud-Optimized GeoTIFF (tiled, with overviews) of one band per name, covering
    `bounds` in `crs`; pixels outside `footprint` (GeoJSON in that CRS), if given, are
    nodata 0. `size` is pixels a side, or (width, height)."""
    width, height = (size, size) if isinstance(size, int) else size
    values = synthetic_bands(len(band_names), max(width, height), seed)[:, :height, :width]
    scale = REFLECTANCE_SCALE if dtype == "uint16" else 254
    pixels = (1 + values * scale).astype(dtype)  # never 0: that is nodata
    west, south, east, north = bounds
    transform = Affine((east - west) / width, 0.0, west, 0.0, -(north - south) / height, north)
    if footprint is not None:
        outside = geometry_mask([footprint], (height, width), transform)
        pixels[:, outside] = 0
    profile = {
        "driver": "COG",
        "width": width,
        "height": height,
        "count": len(band_names),
        "dtype": dtype,
        "crs": crs,
        "transform": transform,
        "nodata": 0 if footprint is not None else None,
        "BLOCKSIZE": BLOCK_SIZE,
        "COMPRESS": "DEFLATE",
    }
    with rasterio.Env(GDAL_NUM_THREADS="1"), MemoryFile() as memory:
        with memory.open(**profile) as dataset:
            dataset.write(pixels)
            dataset.descriptions = tuple(band_names)
        return bytes(memory.read())


def read_geotiff(content: bytes) -> dict[str, np.ndarray]:
    """A GeoTIFF's bands by description (band name) as floats, nodata as NaN: what an
    index reads of an asset's file."""
    with (
        rasterio.Env(GDAL_NUM_THREADS="1"),
        MemoryFile(content) as memory,
        memory.open() as dataset,
    ):
        pixels = dataset.read().astype(np.float64)
        names = [d or f"band{i + 1}" for i, d in enumerate(dataset.descriptions)]
        if dataset.nodata is not None:
            pixels[pixels == dataset.nodata] = np.nan
    return dict(zip(names, pixels, strict=True))


def write_png(seed: int, band_count: int, rgb: tuple[int, int, int], size: int = 64) -> bytes:
    """A PNG thumbnail: bands `rgb` (indices) of the seed's field, stretched to 8 bits,
    so it shows what the item's GeoTIFF holds."""
    values = synthetic_bands(band_count, size, seed)[list(rgb)]
    low, high = values.min(), values.max()
    stretched = ((values - low) / ((high - low) or 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.moveaxis(stretched, 0, -1), "RGB").save(buffer, "PNG", optimize=False)
    return buffer.getvalue()
