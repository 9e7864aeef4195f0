"""The values every step of the pipeline hands on: images and their layers, tree entries,
rules and findings, packages, verdicts, suggestions, the audit result and the report.

Every package may import ``auditor.model``; ``auditor.model`` imports no other part of
auditor (``auditor.errors`` aside), so the pipeline's dependencies flow one way.
"""
