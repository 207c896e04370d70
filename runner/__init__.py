"""runner: reconcile ML training runs and registered models from train.yaml."""

__version__ = "0.1.0"
