"""graphrag_lite: index documents into a knowledge graph and answer questions over it.

Heavy libraries (torch, spaCy, LanceDB) are imported lazily by the modules that need them, so importing
this package and running ``graphrag-lite --help`` stay fast.
"""

from typing import TYPE_CHECKING

from graphrag_lite.errors import GraphRAGError

if TYPE_CHECKING:  # type checkers see the real class; at run time it loads on first use
    from graphrag_lite.api.facade import GraphRAG

__version__ = "0.1.0"

__all__ = ["GraphRAG", "GraphRAGError", "__version__"]


def __getattr__(name: str) -> object:
    # The facade pulls in the query layer; load it only when asked for.
    if name == "GraphRAG":
        from graphrag_lite.api.facade import GraphRAG

        return GraphRAG
    raise AttributeError(name)
