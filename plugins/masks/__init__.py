"""Inpainting mask generators (``ganzoo list masks``); draw them with :func:`ganzoo.draw_masks`."""
