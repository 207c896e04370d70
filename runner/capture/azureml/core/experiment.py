"""`azureml.core.experiment` is refused by name under runner (capture: [azureml])."""

raise ImportError("azureml.core.experiment is not available when runner runs the script (capture: [azureml]): the experiment is train.yaml's experiment:, and runs are started by runner apply")
