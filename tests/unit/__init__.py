"""Fast tests of plain functions on hand-made data: no trained model, no server."""
