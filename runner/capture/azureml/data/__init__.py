"""`azureml.data` is refused by name under runner (capture: [azureml])."""

raise ImportError("azureml.data is not available when runner runs the script (capture: [azureml]): declare data under train.yaml's datasets: and read it by path")
