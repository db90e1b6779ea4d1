"""The provenance panel of the Inspect page: what the file's metadata claims, shown beside (never inside) the verdicts."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from model_zoo.provenance import AI_EDITED, AI_GENERATED, CAPTURED, read_provenance

ICONS = {AI_GENERATED: ":material/smart_toy:", AI_EDITED: ":material/auto_fix_high:", CAPTURED: ":material/photo_camera:"}


@st.cache_data(max_entries=32, show_spinner=False)
def provenance_record(data: bytes, name: str) -> dict[str, Any]:
    """model_zoo.provenance.read_provenance(...).as_dict(), cached per upload."""
    return read_provenance(data, name=name).as_dict()


def findings_frame(record: dict[str, Any]) -> pd.DataFrame:
    """One row per finding: where it is, what it says (shortened), what it suggests."""
    rows = [{"where": f["where"], "suggests": (f["suggests"] or "-").replace("_", " "), "meaning": f["meaning"],
             "value": f["value"]} for f in record["findings"]]
    return pd.DataFrame(rows, columns=["where", "suggests", "meaning", "value"])


def c2pa_caption(c2pa: dict[str, Any]) -> str | None:
    """A line on the C2PA manifest's signature and validation, or None when the file has none."""
    if not c2pa.get("present"):
        return None
    if "validation_state" in c2pa:
        failures = ", ".join(c2pa.get("failures") or []) or "none"
        return (f"C2PA: validation {c2pa['validation_state']}, signed by {c2pa.get('signed_by') or 'unknown'}, "
                f"claim generator {c2pa.get('claim_generator') or 'unnamed'}; failures: {failures} "
                f"({c2pa.get('reader', '')}, no trust list loaded, nothing fetched online).")
    return f"C2PA manifest present; {c2pa.get('error') or c2pa.get('reader', 'not read')}."


def show(data: bytes, name: str) -> None:
    """The panel: one summary sentence, the findings, the C2PA detail and any read errors."""
    record = provenance_record(data, name)
    st.markdown("**Provenance** (the file's metadata, a separate signal: never part of any model's score)")
    suggests = record["suggests"]
    box = st.warning if suggests in (AI_GENERATED, AI_EDITED) else st.info
    box(record["summary"], icon=ICONS.get(suggests, ":material/description:"))
    if record["findings"]:
        # Fixed widths so the value (software, prompt) starts on screen at laptop width; long text is cut, hover reads it.
        st.dataframe(findings_frame(record), hide_index=True, width="stretch",
                     column_config={"where": st.column_config.TextColumn(width=180),
                                    "suggests": st.column_config.TextColumn(width=95),
                                    "meaning": st.column_config.TextColumn(width=230)})
    caption = c2pa_caption(record["c2pa"])
    if caption:
        st.caption(caption)
    for error in record["errors"]:
        st.caption(f"Metadata: {error}")
