"""Index operations, plain functions over records, grouped by stage: input, extract, graph, reports, embed."""
