"""Built-in recipes: named run settings from the seeds and the papers (``ganzoo list recipes``)."""
