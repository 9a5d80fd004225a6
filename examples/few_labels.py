"""A table with few labels, end to end: fit DACLClassifier on a CSV whose label is empty on most rows,
read what it chose, save it as a model folder, and predict new rows from the folder.

The same from the shell: ``dacl fit --data table.csv --label income --out model/`` then
``dacl predict --model model/ --data new.csv --out predictions.csv``.
"""

import numpy as np
import pandas as pd

from dacl import DACLClassifier, load_predictor

rng = np.random.default_rng(0)
n = 2000
table = pd.DataFrame({"age": rng.integers(18, 80, n), "hours": rng.normal(40, 10, n),
                      "sector": rng.choice(["private", "public", "self"], n)})  # fmt: skip
income = np.where(table["hours"] / 10 + (table["sector"] == "self") * 2 + table["age"] / 30 > 7, "high", "low")
table["income"] = np.where(rng.random(n) < 0.03, income, None)  # 3% of the rows are labelled
table.loc[::17, "hours"] = np.nan  # and some cells are missing

model = DACLClassifier(epochs=50, random_state=0).fit(table.drop(columns="income"), table["income"])
print(model.selection_[["candidate", "setting", "cv_accuracy", "seconds"]].to_string(index=False))
print("chosen:", model.chosen_["model"], "-", model.chosen_["reason"])

model.save("few-labels-model", overwrite=True)  # model.md, model.json, safetensors: data, no code
predictor = load_predictor("few-labels-model")
new_rows = table.drop(columns="income").sample(5, random_state=1)[["sector", "hours", "age"]]  # any column order
print(predictor.predict(new_rows), "accuracy on every row:", (predictor.predict(table) == income).mean())
