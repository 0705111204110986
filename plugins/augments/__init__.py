"""Built-in augmentations of what D sees (``ganzoo list augments``)."""
