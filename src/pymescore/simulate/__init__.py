"""Synthetic Peru SME population with a known ground-truth PD."""
