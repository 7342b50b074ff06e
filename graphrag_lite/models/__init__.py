"""Chat and embedding models behind small protocols, the SQLite call cache and token counting.

Importing this package is cheap: torch and sentence-transformers load only when a local embedder first runs.
"""
