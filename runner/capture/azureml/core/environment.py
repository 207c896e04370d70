"""`azureml.core.environment` is refused by name under runner (capture: [azureml])."""

raise ImportError("azureml.core.environment is not available when runner runs the script (capture: [azureml]): declare it under train.yaml's environments:")
