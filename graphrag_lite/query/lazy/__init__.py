"""Lazy search: global answers from a cheap index, judging text units at query time under a budget."""
