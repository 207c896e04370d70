"""`azureml.train` is refused by name under runner (capture: [azureml])."""

raise ImportError("azureml.train is not available when runner runs the script (capture: [azureml]): jobs, sweeps and distributed training are declared in train.yaml (jobs:, sweep:, distribution:)")
