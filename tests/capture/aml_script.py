"""An Azure ML style training script: every Run method runner captures (used by the tests as is)."""

import json
import os

from azureml.core import Run
from azureml.core.run import Run as SameRun

run = Run.get_context()
assert SameRun.get_context(allow_offline=True) is run
assert run.id == os.environ["RUNNER_RUN_ID"], run.id
assert run.experiment.name == os.environ["RUNNER_EXPERIMENT"]
run.log("alpha", 0.5)
run.log("alpha", 0.25)
run.log("note", "a text value")
run.log_list("losses", [0.9, 0.5, 0.3])
run.log_row("curve", x=1, y=0.4)
run.log_row("curve", x=2, y=0.2)
run.log_table("table", {"a": [1, 2], "b": [3, 4]})
with open("plot.png", "wb") as handle:
    handle.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
run.log_image("roc curve", path="plot.png")
run.log_confusion_matrix("cm", {"schema_type": "confusion_matrix",
                                "data": {"class_labels": ["a", "b"], "matrix": [[3, 1], [0, 4]]}})
run.log_accuracy_table("accuracy table", json.dumps({"schema_type": "accuracy_table", "data": {"probability_tables": []}}))
run.tag("team", "vision")
run.set_tags({"stage": "dev", "empty": None})
assert run.get_tags()["team"] == "vision" and run.get_tags()["stage"] == "dev"
run.add_properties({"owner": "ml"})
assert run.get_properties() == {"owner": "ml"}
with open("report.txt", "w") as handle:
    handle.write("report\n")
run.upload_file("outputs/report.txt", "report.txt")
os.makedirs("folder/inner")
with open("folder/inner/x.txt", "w") as handle:
    handle.write("x\n")
run.upload_folder("uploaded", "folder")
assert run.get_status() == "Running"
run.flush()
run.complete()
assert run.get_status() == "Completed"
run.fail(error_details="not really")
assert run.get_status() == "Failed"
run.cancel()
assert run.get_status() == "Canceled"

refused = []
for name in ("register_model", "get_secret", "parent"):
    try:
        getattr(run, name)
    except AttributeError as exc:
        refused.append(str(exc))
for name in ("Workspace", "Dataset", "Model"):
    try:
        exec(f"from azureml.core import {name}")
    except ImportError as exc:
        refused.append(str(exc))
for module in ("azureml.core.model", "azureml.train.estimator"):
    try:
        __import__(module)
    except ImportError as exc:
        refused.append(str(exc))
print("REFUSED " + json.dumps(refused))
import azureml.core

print("AZUREML FROM " + os.path.dirname(azureml.core.__file__))
