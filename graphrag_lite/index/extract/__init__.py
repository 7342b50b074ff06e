"""Stage 2: entities and relationships from text units, by an LLM or by spaCy; entity names and aliases."""
