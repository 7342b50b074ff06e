"""``python -m support --port 8765`` runs the test LLM server."""

from support.server import main

main()
