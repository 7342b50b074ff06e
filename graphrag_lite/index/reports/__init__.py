"""Stage 4: one report per community, by an LLM or extractive, and the context each is written from."""
