"""Provenance: each kind of metadata is found, located and interpreted; bad files never raise; it never moves a score."""

from __future__ import annotations

import csv
import io
import json
import sys

import pytest

from model_zoo.provenance import (
    AI_EDITED,
    AI_GENERATED,
    CAPTURED,
    EDITED,
    read_provenance,
)
from tests import provenance_files as files
from tests.hostile import build_corpus


def _where(record) -> dict[str, str | None]:
    return {f.where: f.suggests for f in record.findings}


def test_a_plain_image_has_no_findings_and_says_absence_proves_nothing():
    record = read_provenance(files.plain("PNG"))
    assert record.findings == [] and record.suggests is None and record.errors == []
    assert "says nothing" in record.summary and record.short() == ""
    assert record.as_dict()["c2pa"] == {"present": False}


def test_automatic1111_parameters_in_a_png_text_chunk():
    record = read_provenance(files.a1111_png())
    assert _where(record) == {"PNG text chunk 'parameters'": AI_GENERATED}
    finding = record.findings[0]
    assert finding.source == "png_text" and "Automatic1111" in finding.meaning
    assert finding.value.startswith("a photo of a lighthouse") and "Steps: 28" in finding.value
    assert record.suggests == AI_GENERATED and "Unsigned metadata" in record.summary
    assert record.short() == "ai_generated: PNG text chunk 'parameters'"


def test_comfyui_prompt_and_workflow_in_compressed_itxt_chunks():
    record = read_provenance(files.comfyui_png())
    assert _where(record) == {"PNG text chunk 'prompt'": AI_GENERATED, "PNG text chunk 'workflow'": AI_GENERATED}
    assert all("ComfyUI" in f.meaning for f in record.findings)


def test_a_prompt_chunk_that_is_not_comfyui_json_only_informs():
    record = read_provenance(files.png_with_text(prompt="holiday photos, beach"))
    assert _where(record) == {"PNG text chunk 'prompt'": None} and record.suggests is None


def test_long_values_are_shortened_for_display():
    record = read_provenance(files.png_with_text(parameters="Steps: 1, Sampler: x, CFG scale: 2, " + "y" * 5000))
    assert len(record.findings[0].value) == 300 and record.findings[0].value.endswith("…")


@pytest.mark.parametrize(("software", "suggests"), [
    ("Midjourney v6", AI_GENERATED), ("Adobe Firefly", AI_GENERATED), ("Adobe Photoshop 25.0 (Windows)", EDITED),
    ("Ver.1.02", None)])
def test_exif_software_names_a_generator_an_editor_or_nothing(software, suggests):
    record = read_provenance(files.exif_jpeg(software=software))
    assert _where(record) == {"EXIF Software": suggests}
    assert record.findings[0].value == software


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_exif_software_in_png_and_webp(fmt):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0131] = "DALL-E 3"
    record = read_provenance(files.encode(Image.new("RGB", (20, 20)), fmt, exif=exif.tobytes()))
    assert _where(record) == {"EXIF Software": AI_GENERATED} and record.findings[0].value == "DALL-E 3"


def test_camera_make_and_model_suggest_capture_and_an_editor_wins_over_it():
    record = read_provenance(files.exif_jpeg(software="Adobe Lightroom Classic 13.0", make="Canon", model="EOS R5"))
    assert _where(record) == {"EXIF Software": EDITED, "EXIF Make/Model": CAPTURED}
    assert record.suggests == EDITED and "edited after capture" in record.summary
    assert dict((f.where, f.value) for f in record.findings)["EXIF Make/Model"] == "Canon EOS R5"


def test_automatic1111_parameters_in_exif_user_comment():
    record = read_provenance(files.exif_jpeg(user_comment=files.a1111_user_comment()))
    assert _where(record) == {"EXIF UserComment": AI_GENERATED}
    assert "Sampler: DPM++ 2M Karras" in record.findings[0].value


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
@pytest.mark.parametrize("form", ["attribute", "element", "resource"])
def test_iptc_digital_source_type_in_xmp_every_container_and_spelling(fmt, form):
    record = read_provenance(files.xmp_image(fmt, "trainedAlgorithmicMedia", form))
    assert _where(record) == {"XMP Iptc4xmpExt:DigitalSourceType": AI_GENERATED}
    assert record.findings[0].value == files.IPTC + "trainedAlgorithmicMedia"
    assert "'trainedAlgorithmicMedia'" in record.findings[0].meaning


@pytest.mark.parametrize(("code", "suggests"), [
    ("compositeWithTrainedAlgorithmicMedia", AI_EDITED), ("digitalCapture", CAPTURED), ("someFutureCode", None)])
def test_other_iptc_source_types(code, suggests):
    record = read_provenance(files.xmp_image("JPEG", code))
    assert _where(record) == {"XMP Iptc4xmpExt:DigitalSourceType": suggests}


def test_ai_metadata_beside_camera_metadata_is_reported_as_a_conflict():
    record = read_provenance(files.exif_jpeg(software="Stable Diffusion", make="Nikon", model="Z 9"))
    assert record.suggests == AI_GENERATED and "conflict" in record.summary


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_c2pa_manifest_is_read_and_validated_with_c2pa_python(fmt):
    pytest.importorskip("c2pa")
    record = read_provenance(files.c2pa_signed(fmt, generator="Test Generator"))
    c2pa = record.c2pa
    assert c2pa["present"] is True and c2pa["reader"].startswith("c2pa-python ")
    assert c2pa["validation_state"] == "Valid" and c2pa["trusted"] is False
    assert "signingCredential.untrusted" in c2pa["failures"] and c2pa["claim_generator"] == "Test Generator"
    assert c2pa["signed_by"] == "Provenance Test Org"
    assert _where(record) == {"C2PA action 'c2pa.created'": AI_GENERATED, "C2PA claim generator": None}
    assert record.suggests == AI_GENERATED
    assert "no trust list" in record.summary and "Unsigned" not in record.summary


def test_a_c2pa_manifest_stating_a_camera_capture():
    pytest.importorskip("c2pa")
    record = read_provenance(files.c2pa_signed("JPEG", "digitalCapture"))
    assert record.suggests == CAPTURED


def test_a_tampered_c2pa_file_fails_validation():
    pytest.importorskip("c2pa")
    data = bytearray(files.c2pa_signed("JPEG"))
    data[-20] ^= 0xFF  # a pixel byte after the manifest: the data hash no longer matches
    record = read_provenance(bytes(data))
    assert record.c2pa["validation_state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in record.c2pa["failures"]
    assert "fails validation" in record.summary


def test_without_c2pa_python_the_manifest_is_still_detected(monkeypatch):
    pytest.importorskip("c2pa")  # to sign the test file
    signed = files.c2pa_signed("JPEG")
    monkeypatch.setitem(sys.modules, "c2pa", None)  # import c2pa now raises ImportError
    record = read_provenance(signed)
    assert record.c2pa["present"] is True and record.c2pa["reader"].startswith("unavailable")
    assert _where(record) == {"C2PA manifest (JUMBF)": None}
    assert record.findings[0].value == "present, not verified"


def test_a_broken_c2pa_store_is_reported_not_raised():
    pytest.importorskip("c2pa")
    signed = files.c2pa_signed("JPEG")
    start = signed.find(b"jumb")
    broken = signed[: start + 40] + b"\0" * 200 + signed[start + 240 :]  # the store's boxes are zeroed
    record = read_provenance(broken)
    assert record.c2pa["present"] is True and record.c2pa["error"].startswith("_C2pa")
    assert _where(record) == {"C2PA manifest (JUMBF)": None} and record.findings[0].value == "present, unreadable"
    assert record.suggests is None and record.errors == []


def test_hostile_files_never_raise_and_report_what_stopped_them():
    for case in build_corpus():
        record = read_provenance(case.data, name=case.name)
        assert record.suggests is None, case.name
        json.dumps(record.as_dict())  # always serialisable for the API
        if case.name in ("empty.jpg", "text.jpg"):
            assert record.errors and record.errors[0].startswith(case.name), record.errors


def test_a_missing_path_is_an_error_in_the_record(tmp_path):
    record = read_provenance(tmp_path / "gone.jpg")
    assert record.findings == [] and "cannot read" in record.errors[0] and "gone.jpg" in record.errors[0]


def test_paths_and_bytes_give_the_same_record(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(files.a1111_png())
    assert read_provenance(path).as_dict() == read_provenance(path.read_bytes()).as_dict()


# ---- shown beside the verdict, never inside it: the CLI and the API -------------------------------------------

@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    from tests.tiny_zoo import brightness_entry

    zoo = tmp_path_factory.mktemp("zoo")
    brightness_entry(zoo, "bright")
    return zoo


def test_predict_cli_has_a_provenance_column_and_json_field(tiny_zoo, tmp_path):
    from training.predict import main

    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "generated.png").write_bytes(files.a1111_png(seed=3))
    (folder / "plain.png").write_bytes(files.plain("PNG", seed=3))
    out = tmp_path / "out.csv"
    assert main([str(folder), "--zoo", str(tiny_zoo), "--model", "all", "--out", str(out)]) == 0
    rows = {row["path"].rsplit("/", 1)[-1]: row for row in csv.DictReader(io.StringIO(out.read_text()))}
    assert rows["generated.png"]["provenance"] == "ai_generated: PNG text chunk 'parameters'"
    assert rows["plain.png"]["provenance"] == ""
    # Same pixels, same score: the metadata moved nothing.
    assert rows["generated.png"]["prob_fake"] == rows["plain.png"]["prob_fake"]
    assert rows["generated.png"]["label"] == rows["plain.png"]["label"]

    out_json = tmp_path / "out.json"
    assert main([str(folder), "--zoo", str(tiny_zoo), "--model", "all", "--out", str(out_json)]) == 0
    records = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(out_json.read_text())}
    generated = records["generated.png"]["provenance"]
    assert generated["suggests"] == AI_GENERATED and generated["findings"][0]["where"] == "PNG text chunk 'parameters'"
    assert records["plain.png"]["provenance"]["findings"] == []
    assert records["generated.png"]["prob_fake"] == records["plain.png"]["prob_fake"]


def test_api_returns_provenance_at_the_top_level_and_the_same_verdicts(tiny_zoo):
    from dashboard.server.api import create_app

    client = create_app(tiny_zoo).test_client()
    bodies = {}
    for name, data in (("signed.jpg", files.exif_jpeg(software="Midjourney v6", seed=4)),
                       ("plain.jpg", files.exif_jpeg(seed=4))):
        response = client.post("/predict", data={"image": (io.BytesIO(data), name)})
        assert response.status_code == 200
        bodies[name] = response.get_json()
    assert bodies["signed.jpg"]["provenance"]["suggests"] == AI_GENERATED
    assert bodies["signed.jpg"]["provenance"]["findings"][0]["where"] == "EXIF Software"
    assert bodies["plain.jpg"]["provenance"]["suggests"] is None
    def scores(body: dict) -> list[tuple]:  # what the model said; timings differ from call to call
        return [(v["model"], v["prob_fake"], v["label"], v["predictions"]) for v in body["verdicts"]]

    assert scores(bodies["signed.jpg"]) == scores(bodies["plain.jpg"])
    assert "provenance" not in bodies["signed.jpg"]["verdicts"][0]
