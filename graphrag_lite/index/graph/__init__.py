"""Stage 3: the merged graph: merging, summaries, pruning, communities and their stable ids."""
