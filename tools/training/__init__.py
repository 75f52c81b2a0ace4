"""`haven train-screener`: fine-tuning the screener and choosing its thresholds (needs the
`training` extra)."""
