"""The shared training engine: one trainer for every task."""
