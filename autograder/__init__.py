"""Instructor and CI tooling for the labs: run, sync, release, grade, feedback, export, demo.

The step names are nbgrader's; nbgrader does the work underneath.
"""
