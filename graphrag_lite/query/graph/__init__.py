"""Graph search: text units ranked by Personalized PageRank over passages and entities."""
