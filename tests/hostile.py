"""A corpus of hostile and broken image files, generated in memory, with what every entry point must answer.

Each case either must be refused with an error containing `message`, or must
decode (and so be predicted). The corpus is built once per test session; the
decompression bombs are hand-written PNGs of ~100-200 KB (30000x30000 pixels; 200 MB of metadata text).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

BOMB_SIDE = 30_000
HUGE_SIZE = (6000, 4000)  # width, height: 24 megapixels, under decode_image's limit


@dataclass(frozen=True)
class Case:
    name: str  # file name, with the extension a user would give it
    data: bytes
    message: str | None = None  # substring of the error; None: must decode

    @property
    def ok(self) -> bool:
        return self.message is None


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid side x side one-colour PNG, compressed to ~100 KB; decoding it would need side^2 * 3 bytes."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)  # filter byte + 1-bit pixels
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def text_bomb_png() -> bytes:
    """A valid 8x8 PNG carrying a zTXt metadata chunk that inflates to 200 MB (compressed ~200 KB)."""
    png = _save(Image.fromarray(np.zeros((8, 8, 3), np.uint8)), "PNG")
    compressor = zlib.compressobj(9)
    text = b"".join(compressor.compress(b"\0" * 1_000_000) for _ in range(200)) + compressor.flush()
    header_end = 8 + 25  # signature + IHDR chunk
    return png[:header_end] + _png_chunk(b"zTXt", b"Comment\0\0" + text) + png[header_end:]


def exif_rotated_jpeg() -> bytes:
    """Stored 64 wide x 32 high, left half red, right half blue, EXIF orientation 6 (rotate 90 clockwise).

    Displayed correctly it is 32 wide x 64 high with red on top and blue at the bottom.
    """
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:, :32] = (255, 0, 0)
    stored[:, 32:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())


def animated_gif() -> bytes:
    frames = [Image.fromarray(np.full((32, 32, 3), value, np.uint8)) for value in (10, 128, 250)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def palette_png_with_transparency() -> bytes:
    image = Image.fromarray(_noise(32, 32, 3)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return _save(image, "PNG", transparency=0)


def sixteen_bit_png() -> bytes:
    ramp = np.linspace(0, 65535, 48 * 48, dtype=np.uint16).reshape(48, 48)
    return _save(Image.fromarray(ramp), "PNG")


def huge_jpeg() -> bytes:
    width, height = HUGE_SIZE
    gradient = Image.linear_gradient("L").resize((width, height))
    return _save(Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient)), "JPEG",
                 quality=80)


def build_corpus() -> list[Case]:
    """Every hostile case; `message` is what the error must say."""
    valid_jpeg = _save(Image.fromarray(_noise(64, 64, 1)), "JPEG", quality=90)
    valid_png = _save(Image.fromarray(_noise(64, 64, 2)), "PNG")
    return [
        Case("empty.jpg", b"", "file is empty"),
        Case("text.jpg", b"this is not an image, it is a note\n" * 10, "not an image"),
        Case("truncated.jpg", valid_jpeg[: len(valid_jpeg) // 2], "truncated or corrupt"),
        Case("truncated.png", valid_png[: len(valid_png) // 2], "truncated or corrupt"),
        Case("bomb.png", bomb_png(), "over the limit"),
        Case("text_bomb.png", text_bomb_png(), "unreadable image header"),
        Case("sixteen_bit.png", sixteen_bit_png()),
        Case("cmyk.jpg", _save(Image.fromarray(_noise(40, 40, 4)).convert("CMYK"), "JPEG", quality=90)),
        Case("palette_transparent.png", palette_png_with_transparency()),
        Case("grayscale.png", _save(Image.fromarray(_noise(32, 32, 5)[..., 0], mode="L"), "PNG")),
        Case("animated.gif", animated_gif()),
        Case("exif_rotated.jpg", exif_rotated_jpeg()),
        Case("huge.jpg", huge_jpeg()),
        Case("jpeg_named.png", valid_jpeg),
        Case("extreme_aspect.png", _save(Image.fromarray(_noise(1, 3000, 6)), "PNG")),
    ]


def write_corpus(folder: Path, cases: list[Case]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for case in cases:
        path = folder / case.name
        path.write_bytes(case.data)
        paths[case.name] = path
    return paths
