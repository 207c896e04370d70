"""`azureml.core.model` is refused by name under runner (capture: [azureml])."""

raise ImportError("azureml.core.model is not available when runner runs the script (capture: [azureml]): runner registers models from train.yaml's models:")
