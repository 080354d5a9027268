"""Examples for layernet; ``examples.custom_layers`` is a plugin module configs can load."""
