"""Stage 1: the input folder into documents, and documents into token chunks (text units)."""
