"""Probes: the half of each hidden test that runs in the student's kernel and only records."""
