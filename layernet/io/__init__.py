"""Files of trained models and of runs in progress: model files and checkpoints.

Both are :mod:`layernet.archive` files. :mod:`.models` reads model files back
into a :class:`~layernet.Sequential` (``model.save`` writes them);
:mod:`.checkpoints` saves and restores a whole :class:`~layernet.Trainer`.
"""
