"""``python -m graphrag_lite.testing --port 8765`` runs the test LLM server."""

from graphrag_lite.testing.server import main

main()
