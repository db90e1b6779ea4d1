"""Provenance: what an image file's metadata says about where it came from. A separate signal from the pixels.

Read here, never mixed into any model's score:
  - C2PA Content Credentials (the signed manifest store, a JUMBF box in JPEG APP11, PNG caBX, WebP C2PA),
    read and validated with the `c2pa-python` package; without the package, only the manifest's presence;
  - IPTC digitalSourceType in XMP (e.g. trainedAlgorithmicMedia = made by a generative AI model);
  - generator parameters in PNG text chunks: Automatic1111/Forge ("parameters"), ComfyUI ("prompt",
    "workflow"), InvokeAI; the same Automatic1111 text in EXIF UserComment (its JPEG/WebP output);
  - EXIF Software, and EXIF Make/Model (a camera's own record).

`read_provenance` returns a plain record (`Provenance.as_dict()`) naming what was found, where, and
what it suggests. It never raises for a bad file: a file it cannot parse gives a record with `errors`.
Metadata is easy to strip (most sites do) and easy to forge, so absence proves nothing and presence is
a claim, not proof; only a C2PA manifest is signed, and only a trusted signer makes it more than a claim.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model_zoo.images import MAX_BYTES

# What a finding suggests, strongest first; the record's overall suggestion is the strongest found.
AI_GENERATED, AI_EDITED, COMPUTER_GENERATED, EDITED, CAPTURED = (
    "ai_generated", "ai_edited", "computer_generated", "edited", "captured")
SUGGESTIONS = (AI_GENERATED, AI_EDITED, COMPUTER_GENERATED, EDITED, CAPTURED)
PLAIN = {
    AI_GENERATED: "made by a generative AI model",
    AI_EDITED: "a composite or edit that includes AI-generated content",
    COMPUTER_GENERATED: "made or composited by software, not captured by a camera",
    EDITED: "edited after capture",
    CAPTURED: "captured by a camera or scanner",
}

# IPTC NewsCodes "digitalsourcetype" vocabulary (the same codes C2PA actions use).
IPTC_SOURCE_TYPES = {
    "trainedAlgorithmicMedia": AI_GENERATED,
    "compositeWithTrainedAlgorithmicMedia": AI_EDITED,
    "algorithmicMedia": COMPUTER_GENERATED,
    "dataDrivenMedia": COMPUTER_GENERATED,
    "compositeSynthetic": COMPUTER_GENERATED,
    "digitalArt": COMPUTER_GENERATED,
    "virtualRecording": COMPUTER_GENERATED,
    "algorithmicallyEnhanced": EDITED,
    "humanEdits": EDITED,
    "minorHumanEdits": EDITED,
    "composite": EDITED,
    "digitalCapture": CAPTURED,
    "computationalCapture": CAPTURED,
    "negativeFilm": CAPTURED,
    "positiveFilm": CAPTURED,
    "print": CAPTURED,
    "screenCapture": CAPTURED,
    "compositeCapture": CAPTURED,
}

# Substrings of a Software / CreatorTool / claim generator name (lower case) that name an image generator
# or an editor. A camera's firmware string names neither and suggests nothing by itself.
GENERATORS = ("stable diffusion", "stablediffusion", "automatic1111", "comfyui", "invokeai", "midjourney", "dall-e",
              "dall·e", "dalle", "firefly", "imagen", "novelai", "leonardo.ai", "flux", "sdxl", "fooocus", "gpt-4o",
              "openai", "ideogram", "runway", "draw things", "diffusionbee", "nightcafe", "craiyon")
EDITORS = ("photoshop", "lightroom", "gimp", "affinity", "pixelmator", "capture one", "snapseed", "darktable",
           "rawtherapee", "paint.net", "canva", "picsart", "facetune")

MAX_VALUE_CHARS = 300  # values are shown, not stored whole: a ComfyUI workflow can be 100 kB of JSON
MAX_TEXT_CHUNK = 2 * 1024 * 1024  # a compressed PNG text chunk is inflated at most this far (text bombs)

EXIF_SOFTWARE, EXIF_MAKE, EXIF_MODEL, EXIF_IFD, EXIF_USER_COMMENT = 0x0131, 0x010F, 0x0110, 0x8769, 0x9286


@dataclass(frozen=True)
class Finding:
    """One piece of metadata: the kind of source, where in the file, its (shortened) value, and what it suggests."""

    source: str  # "c2pa", "iptc", "png_text", "exif", "xmp"
    where: str
    value: str
    suggests: str | None  # one of SUGGESTIONS, or None when it only informs
    meaning: str


@dataclass
class Provenance:
    """Everything found in one file's metadata; `as_dict()` is the record the CLI, API and dashboard show."""

    findings: list[Finding] = field(default_factory=list)
    c2pa: dict[str, Any] = field(default_factory=lambda: {"present": False})
    errors: list[str] = field(default_factory=list)

    @property
    def suggests(self) -> str | None:
        """The strongest suggestion among the findings (AI-generated first), or None."""
        found = {f.suggests for f in self.findings if f.suggests}
        return next((s for s in SUGGESTIONS if s in found), None)

    @property
    def summary(self) -> str:
        """One sentence in plain words."""
        if not self.findings:
            return ("No provenance metadata found. Most sites strip metadata on upload, so its absence says nothing "
                    "about how the image was made.")
        suggests = self.suggests
        where = sorted({f.where for f in self.findings if f.suggests == suggests}) if suggests else []
        if suggests is None:
            return "Metadata found, but none of it says how the image was made: " + "; ".join(
                f.where for f in self.findings) + "."
        sentence = f"The file's metadata says it was {PLAIN[suggests]} ({'; '.join(where)})."
        if suggests in (AI_GENERATED, AI_EDITED) and any(f.suggests == CAPTURED for f in self.findings):
            sentence += " Other metadata in it points to a camera: the claims conflict."
        if self.c2pa.get("present") and self.c2pa.get("validation_state") == "Invalid":
            sentence += " Its C2PA manifest fails validation (the file changed after signing, or the manifest is forged)."
        elif not any(f.source == "c2pa" for f in self.findings if f.suggests == suggests):
            sentence += " Unsigned metadata: easy to add, copy or remove."
        elif not self.c2pa.get("trusted"):
            sentence += (" The Content Credentials are signed, but by a certificate on no trust list this tool holds "
                         "(anyone can make one).")
        return sentence

    def short(self) -> str:
        """A compact cell for CSV: 'suggestion: where; where', or '' when nothing was found."""
        if not self.findings:
            return ""
        suggests = self.suggests or "unknown"
        return f"{suggests}: " + "; ".join(dict.fromkeys(f.where for f in self.findings))

    def as_dict(self) -> dict[str, Any]:
        return {"suggests": self.suggests, "summary": self.summary, "findings": [asdict(f) for f in self.findings],
                "c2pa": dict(self.c2pa), "errors": list(self.errors),
                "note": "Read from the file's metadata, never from its pixels; not part of any model's score."}


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _named(name: str) -> str | None:
    """What a software or generator name suggests: AI_GENERATED for known generators, EDITED for editors."""
    lowered = name.lower()
    if any(g in lowered for g in GENERATORS):
        return AI_GENERATED
    if any(e in lowered for e in EDITORS):
        return EDITED
    return None


def _source_type(uri: str) -> tuple[str, str | None]:
    """(code, suggestion) of an IPTC digitalSourceType URI or bare code."""
    code = uri.rstrip("/").rsplit("/", 1)[-1].strip()
    return code, IPTC_SOURCE_TYPES.get(code)


# ---- container walkers: only the bytes we need, no pixel decoding ------------------------------------

def _png_chunks(data: bytes) -> tuple[dict[str, str], bytes | None]:
    """{keyword: text} of a PNG's tEXt/zTXt/iTXt chunks (compressed ones inflated at most MAX_TEXT_CHUNK), and
    its eXIf chunk. Walked here because Pillow decodes every pixel to reach chunks stored after the image data."""
    texts: dict[str, str] = {}
    exif: bytes | None = None
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IEND" or len(body) < length:
            break
        if kind == b"eXIf":
            exif = body
            continue
        if kind not in (b"tEXt", b"zTXt", b"iTXt") or b"\0" not in body:
            continue
        keyword, rest = body.split(b"\0", 1)
        key = keyword.decode("latin-1", "replace")
        try:
            if kind == b"tEXt":
                texts[key] = rest.decode("latin-1", "replace")
            elif kind == b"zTXt":
                texts[key] = _inflate(rest[1:]).decode("latin-1", "replace")
            else:  # iTXt: compression flag, method, language\0, translated keyword\0, text
                compressed, rest = rest[0], rest[2:]
                _language, _translated, text = rest.split(b"\0", 2)
                texts[key] = (_inflate(text) if compressed else text).decode("utf-8", "replace")
        except (ValueError, IndexError, zlib.error):
            continue
    return texts, exif


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    return inflater.decompress(data, MAX_TEXT_CHUNK)


_XMP = re.compile(rb"<x:xmpmeta.*?</x:xmpmeta>", re.DOTALL)
_SOURCE_TYPE = re.compile(
    r"DigitalSourceType(?:\s*=\s*[\"']([^\"']+)[\"']|\s+rdf:resource\s*=\s*[\"']([^\"']+)[\"'][^>]*/?>|\s*>\s*([^<\s]+)\s*<)",
    re.IGNORECASE)
_CREATOR_TOOL = re.compile(r"CreatorTool(?:\s*=\s*[\"']([^\"']+)[\"']|\s*>\s*([^<]+?)\s*<)")


def _xmp_packets(data: bytes, png_texts: dict[str, str]) -> list[str]:
    """XMP packets anywhere in the file (JPEG APP1, WebP 'XMP ', uncompressed PNG iTXt) plus compressed PNG XMP."""
    packets = [m.group(0).decode("utf-8", "replace") for m in _XMP.finditer(data)]
    xmp_text = png_texts.get("XML:com.adobe.xmp")
    if xmp_text and xmp_text not in packets:
        packets.append(xmp_text)
    return packets


def _c2pa_box_present(data: bytes) -> bool:
    """A JUMBF superbox labelled 'c2pa' (the C2PA manifest store), in any container."""
    start = 0
    while (found := data.find(b"jumb", start)) != -1:
        if b"c2pa" in data[found : found + 64]:
            return True
        start = found + 4
    return False


# ---- readers, one per kind of metadata -----------------------------------------------------------------

def _read_png_text(texts: dict[str, str], record: Provenance) -> None:
    known = {
        "parameters": ("Automatic1111 / Forge (Stable Diffusion WebUI) generation parameters", AI_GENERATED),
        "prompt": ("ComfyUI prompt graph (a Stable Diffusion-family generation)", AI_GENERATED),
        "workflow": ("ComfyUI workflow (a Stable Diffusion-family generation)", AI_GENERATED),
        "invokeai_metadata": ("InvokeAI generation metadata", AI_GENERATED),
        "sd-metadata": ("InvokeAI generation metadata", AI_GENERATED),
        "Dream": ("InvokeAI (dream) generation command", AI_GENERATED),
    }
    for key, text in texts.items():
        if key in known:
            meaning, suggests = known[key]
            if key == "prompt" and "class_type" not in text and "{" not in text:
                meaning, suggests = "a text chunk named 'prompt' (not ComfyUI's JSON)", None
            record.findings.append(Finding("png_text", f"PNG text chunk '{key}'", _short(text), suggests, meaning))
        elif key in ("Software", "Source", "Comment") and (suggests := _named(text) or _params_in(text)):
            record.findings.append(Finding("png_text", f"PNG text chunk '{key}'", _short(text), suggests,
                                           f"names {'an image generator' if suggests == AI_GENERATED else 'an editor'}"))


def _params_in(text: str) -> str | None:
    """AI_GENERATED when a free-text field holds diffusion sampling parameters (Steps, Sampler, CFG scale, Seed)."""
    lowered = text.lower()
    hits = sum(word in lowered for word in ("steps", "sampler", "cfg scale", "cfg_scale", "seed"))
    return AI_GENERATED if hits >= 3 else None


def _user_comment(value: Any) -> str:
    """EXIF UserComment: 8 bytes naming the charset, then the text (Automatic1111 writes UTF-16)."""
    if isinstance(value, str):
        return value
    raw = bytes(value)
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        candidates = [body.decode(enc, "replace") for enc in ("utf-16-be", "utf-16-le")]
        return max(candidates, key=lambda t: sum(c.isascii() and c.isprintable() for c in t))
    return body.decode("utf-8", "replace").strip("\0 ")


def _read_exif(exif: Any, record: Provenance) -> None:
    """Software, Make/Model and UserComment from a PIL Image.Exif."""
    software = exif.get(EXIF_SOFTWARE)
    if software:
        software = _short(str(software).strip("\0 "))
        suggests = _named(software)
        meaning = {AI_GENERATED: "names an image generator", EDITED: "names an image editor"}.get(
            suggests, "the software that wrote the file (names no known generator or editor)")
        record.findings.append(Finding("exif", "EXIF Software", software, suggests, meaning))
    make, model = (str(exif.get(tag) or "").strip("\0 ") for tag in (EXIF_MAKE, EXIF_MODEL))
    if make or model:
        record.findings.append(Finding("exif", "EXIF Make/Model", _short(f"{make} {model}".strip()), CAPTURED,
                                       "a camera's make and model (copied or forged as easily as any metadata)"))
    comment = exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)
    if comment:
        text = _user_comment(comment)
        if _params_in(text):
            record.findings.append(Finding("exif", "EXIF UserComment", _short(text), AI_GENERATED,
                                           "Stable Diffusion generation parameters (Automatic1111 style)"))


def _read_xmp(packets: list[str], record: Provenance) -> None:
    for packet in packets:
        for match in _SOURCE_TYPE.finditer(packet):
            uri = next(group for group in match.groups() if group)
            code, suggests = _source_type(uri)
            meaning = PLAIN.get(suggests, "an IPTC source type this tool does not know") if suggests else (
                "an IPTC source type this tool does not know")
            record.findings.append(Finding("iptc", "XMP Iptc4xmpExt:DigitalSourceType", _short(uri), suggests,
                                           f"IPTC '{code}': {meaning}"))
        for match in _CREATOR_TOOL.finditer(packet):
            tool = _short(next(group for group in match.groups() if group))
            if suggests := _named(tool):
                record.findings.append(Finding("xmp", "XMP xmp:CreatorTool", tool, suggests,
                                               f"names {'an image generator' if suggests == AI_GENERATED else 'an editor'}"))


def _mime(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "(version unknown)"


def _read_c2pa(data: bytes, record: Provenance) -> None:
    """Read and validate the manifest store with c2pa-python (offline: no remote manifests, no OCSP)."""
    try:
        import c2pa
    except Exception as exc:  # noqa: BLE001 - a missing or broken native library must not stop the other readers
        record.c2pa.update(reader=f"unavailable ({type(exc).__name__}); presence only")
        record.findings.append(Finding("c2pa", "C2PA manifest (JUMBF)", "present, not verified", None,
                                       "Content Credentials are attached; install c2pa-python to read and verify them"))
        return
    record.c2pa["reader"] = f"c2pa-python {_package_version('c2pa-python')}"
    try:
        settings = c2pa.Settings.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})
        with c2pa.Context(settings=settings) as context, c2pa.Reader(_mime(data), io.BytesIO(data),
                                                                      context=context) as reader:
            manifest = reader.get_active_manifest() or {}
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
    except Exception as exc:  # noqa: BLE001 - the native reader raises its own error types for malformed stores
        record.c2pa["error"] = _short(f"{type(exc).__name__}: {exc}")
        record.findings.append(Finding("c2pa", "C2PA manifest (JUMBF)", "present, unreadable", None,
                                       "a Content Credentials store that could not be parsed"))
        return
    failures = [item.get("code", "") for item in (results.get("activeManifest") or {}).get("failure", [])]
    signature = manifest.get("signature_info") or {}
    generators = [g.get("name", "") for g in manifest.get("claim_generator_info") or [] if isinstance(g, dict)]
    generators = generators or [str(manifest.get("claim_generator", ""))]
    record.c2pa.update(
        validation_state=state, trusted=state == "Trusted", failures=failures,
        signed_by=signature.get("issuer") or signature.get("common_name"),
        claim_generator=", ".join(g for g in generators if g), title=manifest.get("title"))
    trust = ("signed by a trusted certificate" if state == "Trusted" else
             "the manifest fails validation" if state == "Invalid" else
             "signed, by a certificate on no trust list this tool holds")
    source_types = []
    for assertion in manifest.get("assertions") or []:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in (assertion.get("data") or {}).get("actions") or []:
                if action.get("digitalSourceType"):
                    source_types.append((action.get("action", ""), action["digitalSourceType"]))
    for action, uri in source_types:
        code, suggests = _source_type(uri)
        record.findings.append(Finding("c2pa", f"C2PA action '{action}'", _short(uri), suggests,
                                       f"IPTC '{code}': {PLAIN.get(suggests, 'unknown source type')}; {trust}"))
    tool = record.c2pa["claim_generator"] or "unnamed claim generator"
    record.findings.append(Finding("c2pa", "C2PA claim generator", _short(tool), None if source_types else _named(tool),
                                   f"the software that signed the Content Credentials; {trust}"))


def read_provenance(source: bytes | str | os.PathLike, name: str | None = None) -> Provenance:
    """Everything the file's metadata says about its origin; never raises for a bad or hostile file."""
    record = Provenance()
    label = name or ("upload" if isinstance(source, (bytes, bytearray)) else str(source))
    try:
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        else:
            path = Path(source)
            if path.stat().st_size > MAX_BYTES:
                record.errors.append(f"{label}: larger than {MAX_BYTES // 2**20} MB; metadata not read")
                return record
            data = path.read_bytes()
    except OSError as exc:
        record.errors.append(f"{label}: cannot read ({exc.strerror or exc})")
        return record
    if len(data) > MAX_BYTES:
        record.errors.append(f"{label}: larger than {MAX_BYTES // 2**20} MB; metadata not read")
        return record
    try:
        _read_all(data, label, record)
    except Exception as exc:  # noqa: BLE001 - a reader bug must never cost the user the pixel verdict
        record.errors.append(f"{label}: metadata reading stopped ({type(exc).__name__}: {_short(str(exc))})")
    return record


def _read_all(data: bytes, label: str, record: Provenance) -> None:
    png_texts: dict[str, str] = {}
    png_exif: bytes | None = None
    is_png = data.startswith(b"\x89PNG\r\n\x1a\n")
    if is_png:
        png_texts, png_exif = _png_chunks(data)
        _read_png_text(png_texts, record)
    if _c2pa_box_present(data):
        record.c2pa["present"] = True
        _read_c2pa(data, record)
    _read_xmp(_xmp_packets(data, png_texts), record)
    try:
        from PIL import Image

        if is_png:
            exif = Image.Exif()
            if png_exif:
                exif.load(png_exif)
            _read_exif(exif, record)
        else:
            with Image.open(io.BytesIO(data)) as image:  # headers only: no pixels are decoded
                _read_exif(image.getexif(), record)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken headers; metadata is best effort
        if _mime(data) or not record.findings:
            record.errors.append(f"{label}: EXIF not read ({type(exc).__name__})")
