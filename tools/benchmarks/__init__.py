"""`haven bench ...`: screening, pipeline, reads, scale, redaction and faults."""
