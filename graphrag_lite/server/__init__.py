"""``graphrag-lite serve``: the HTTP API (REST, OpenAI-compatible chat) and the web page, on FastAPI.

Needs the ``server`` extra (``pip install "graphrag-lite[server]"``). docs/server.md has every route.
"""
