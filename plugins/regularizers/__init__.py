"""Built-in D regularisers (``ganzoo list regularizers``)."""
