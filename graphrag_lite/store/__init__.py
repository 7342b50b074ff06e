"""Storage: records, ids, Parquet tables, atomic writes, LanceDB vectors, the graph and the index layout."""
