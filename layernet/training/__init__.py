"""Training: settings, the fit loop, callbacks, metrics and history."""
