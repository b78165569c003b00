"""Mutation testing of the reference solutions: does every small change to a reference
answer cost the points of its exercise?

mutmut writes the mutants of `solutions/labNN_*.py` (an operator flipped, a constant nudged,
an argument dropped) and runs `graded_cells.py` against each: every grade cell of the lab is
judged as in grading, the mutated solution standing for a student's answer and the original
for the reference. A mutant no cell fails is a mistake a student could make without losing a
point, unless it is equivalent to the reference; those are listed, each with its reason, in
`equivalent/labNN_*.toml`.
"""
