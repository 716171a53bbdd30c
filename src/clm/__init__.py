"""clm: churn and lifecycle-stage models for mobile operators."""

import warnings

# pandera imports pyspark.pandas whenever PySpark is installed, and that module warns on every
# import that it does not yet fully support pandas 3. clm never uses pandas-on-Spark (its
# Spark scorer exchanges Arrow tables, tested on local-cluster), so the warning would only
# bury every stage's real output.
warnings.filterwarnings(
    "ignore",
    message="PySpark does not yet fully support pandas >= 3",
    category=FutureWarning,
)
