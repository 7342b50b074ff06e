"""The server's routes, one module per area: questions, browsing the index, documents and jobs."""
