"""runner's stand-in for the `azureml` namespace (see `azureml.core`)."""
