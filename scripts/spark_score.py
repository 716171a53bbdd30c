"""Score a month on a Spark cluster: ``spark-submit scripts/spark_score.py --help``.

The thin spark-submit face of ``clm.scoring.spark.score_tables`` (``clm score --spark-master``
is the one for this machine); docs/spark.md says how to ship clm's environment to executors.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date
from pathlib import Path

from pyspark.errors import PythonException
from pyspark.sql import SparkSession
from rich.console import Console

from clm.config import load_section
from clm.data.operator import DataConfig
from clm.errors import InputError
from clm.scoring.batches import QuarantineShareError, ScoringConfig
from clm.scoring.spark import conform_tables, read_raw_tables, score_tables, worker_error
from clm.scoring.tables import mix_table, run_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scorer", required=True, help="models:/clm-scorer@champion or a folder")
    parser.add_argument("--input", help="folder (any Spark file system) with usage_monthly and "
                        "subscribers as .parquet, or as .csv with a header (with "
                        "--operator-tables)")  # fmt: skip
    parser.add_argument("--usage-table", help="catalog table instead of --input")
    parser.add_argument("--subscribers-table", help="catalog table instead of --input")
    parser.add_argument("--out", required=True, help="scores folder; quarantine beside it")
    parser.add_argument("--month", type=date.fromisoformat, help="YYYY-MM-01; default the latest")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    parser.add_argument("--operator-tables", action="store_true", help="the tables use your "
                        "names and codes: apply params.yaml data.operator's mappings")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("py4j").setLevel(logging.WARNING)  # a line per connection it opens and closes
    spark = SparkSession.builder.appName("clm-score").getOrCreate()
    if args.input:
        usage, subscribers = read_raw_tables(spark, args.input)
    elif args.usage_table and args.subscribers_table:
        usage, subscribers = spark.table(args.usage_table), spark.table(args.subscribers_table)
    else:
        parser.error("give --input, or --usage-table and --subscribers-table")
    if args.operator_tables:
        operator = load_section(DataConfig, "data", args.params).operator
        usage, subscribers = conform_tables(usage, subscribers, operator)
    config = load_section(ScoringConfig, "scoring", args.params)
    try:
        summary = score_tables(usage, subscribers, args.scorer, args.out, config, args.month)
    except (InputError, QuarantineShareError) as error:
        raise SystemExit(f"spark score failed: {error}") from error
    except PythonException as error:  # an operator's value that does not map or convert
        raise SystemExit(f"spark score failed: {worker_error(error)}") from error
    console = Console()
    console.print(run_table(summary.run, args.out, summary.decile_rows_off))
    for column, mix in summary.run.mix.items():
        console.print(mix_table(column, mix))
    spark.stop()


if __name__ == "__main__":
    main()
