"""A snapshot run's model as an MLflow pyfunc, the model registered as
``clm-snapshot-<dataset>``: the dataset's own columns in, the run's probabilities out.

The artifact is the run's ``model/`` folder (booster, encoder, calibrator and the mapping it
was trained with); the ``clm`` package travels as code. ``predict`` takes rows shaped like
the mapped file (its columns by their names, best as the file's text: ``pd.read_csv(path,
dtype=str, keep_default_na=False)``; other dtypes are turned into text) and returns one row
per input row, in input order: the customer id, the churn probability (weighted to the
mapping's population rate and Platt-scaled where the run was, as ``clm snapshot score``), the
top reasons, and, for a row not scored, why: its failed checks, or ``filtered`` where the
mapping's filter drops it.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
import polars as pl
from mlflow.models import ModelSignature, infer_signature
from mlflow.models.model import ModelInfo
from mlflow.types.schema import AnyType, ColSpec, Schema

import clm
from clm.data.validate import FAILED_CHECKS
from clm.models.trained import TrainedModel
from clm.scoring.export import REQUIREMENTS
from clm.snapshot.frame import ID, source_from_rows
from clm.snapshot.mapping import Mapping
from clm.snapshot.report import explain_snapshot
from clm.snapshot.scoring import ROW, check_rows, trained_mapping

MODEL_ARTIFACT = "model"
MODEL_CODE = Path(__file__).with_name("model_code.py")  # run by MLflow, never imported
INPUT = Path("model input")  # what messages call the rows handed to predict
PARAMS = {"reasons": 3}
EXAMPLE_ROWS = 5
EXAMPLE_CANDIDATES = 200  # rows checked for the example: not the whole dataset a second time
FILTERED = "filtered"


class SnapshotScorerModel(mlflow.pyfunc.PythonModel):
    """Loads the run's model folder; predicts with ``predict_rows``."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        folder = Path(context.artifacts[MODEL_ARTIFACT])
        self.model = TrainedModel.load(folder)
        self.mapping = trained_mapping(folder, INPUT)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None):
        """The input rows' scores as a pandas frame (``predict_rows``)."""
        reasons = int((params or {}).get("reasons", PARAMS["reasons"]))
        rows = pl.from_pandas(model_input)
        return predict_rows(self.mapping, self.model, rows, reasons).to_pandas()


def predict_rows(
    mapping: Mapping, model: TrainedModel, rows: pl.DataFrame, reasons: int
) -> pl.DataFrame:
    """One output row per row of ``rows``: id, churn probability, top ``reasons`` causes and
    categories, and ``failed_checks`` (null for a scored row)."""
    source = source_from_rows(mapping, rows, str(INPUT))
    checked = check_rows(mapping, model, source)
    explained = explain_snapshot(model, checked.accepted.drop(ROW), mapping, reasons)
    scored = explained.select(ID, "churn_probability", *_reason_columns(reasons)).with_columns(
        checked.accepted[ROW]
    )
    failed = checked.quarantined.select(ROW, pl.col(FAILED_CHECKS).list.join("; "))
    positions = pl.DataFrame({ROW: pl.int_range(rows.height, dtype=pl.UInt32, eager=True)})
    result = (
        positions.join(scored, on=ROW, how="left", maintain_order="left")
        .join(failed, on=ROW, how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("churn_probability").is_null())
            .then(pl.col(FAILED_CHECKS).fill_null(FILTERED))
            .alias(FAILED_CHECKS)
        )
        .drop(ROW)
    )
    ids = (
        source[mapping.id_column]
        if mapping.id_column
        else pl.int_range(1, rows.height + 1, eager=True).cast(pl.String)  # as check_rows
    )
    return result.with_columns(ids.alias(ID))  # every row's id, scored or not


def spark_result_type(reasons: int = PARAMS["reasons"]) -> str:
    """The struct to ask ``mlflow.pyfunc.spark_udf`` for: ``predict_rows``' columns. Call the
    UDF with one struct of the file's columns (``F.struct(*frame.columns)``): its fields are
    matched to the input columns by name, separate arguments by position."""
    reasons_text = [f"{column} string" for column in _reason_columns(reasons)]
    fields = [f"{ID} string", "churn_probability double", *reasons_text, f"{FAILED_CHECKS} string"]
    return ", ".join(fields)


def _reason_columns(reasons: int) -> list[str]:
    return [f"reason_{i}_{part}" for i in range(1, reasons + 1) for part in ("cause", "category")]


def log_snapshot_model(model_dir: Path, source: pl.DataFrame, name: str) -> ModelInfo:
    """Log the run's model folder as a pyfunc in the active run and register it as ``name``.

    ``source`` holds the dataset's rows (``read_source``): the first the model scores among its
    first ``EXAMPLE_CANDIDATES`` are the input example, and their predictions give the
    signature's outputs. Every input column is
    ``any``: pandas carries a file's numbers as int64, float64 or text, and ``predict``
    turns them into text before the mapping's own checks.
    """
    mapping = trained_mapping(model_dir, INPUT)
    model = TrainedModel.load(model_dir)
    candidates = source.head(EXAMPLE_CANDIDATES)
    scorable = check_rows(mapping, model, candidates).accepted[ROW].head(EXAMPLE_ROWS)
    example_pd = candidates.select(mapping.source_columns)[scorable.to_list()].to_pandas()
    output = predict_rows(mapping, model, pl.from_pandas(example_pd), PARAMS["reasons"])
    inferred = infer_signature(example_pd, output.to_pandas(), params=PARAMS)
    inputs = Schema([ColSpec(AnyType(), column) for column in mapping.source_columns])
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(MODEL_CODE),
        artifacts={MODEL_ARTIFACT: str(model_dir)},
        code_paths=[str(Path(clm.__file__).parent)],
        signature=ModelSignature(inputs, inferred.outputs, inferred.params),
        input_example=example_pd,
        pip_requirements=[f"{package}=={metadata.version(package)}" for package in REQUIREMENTS],
        registered_model_name=name,
    )
