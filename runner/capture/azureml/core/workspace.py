"""`azureml.core.workspace` is refused by name under runner (capture: [azureml])."""

raise ImportError("azureml.core.workspace is not available when runner runs the script (capture: [azureml]): runner runs on this machine's computes; there is no workspace")
