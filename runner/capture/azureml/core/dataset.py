"""`azureml.core.dataset` is refused by name under runner (capture: [azureml])."""

raise ImportError("azureml.core.dataset is not available when runner runs the script (capture: [azureml]): declare data under train.yaml's datasets: and read it by path")
