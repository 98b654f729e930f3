"""Shared types: findings, reports, errors, the safe artifact walk and the policy model."""
