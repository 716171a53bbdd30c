"""Score a month on a Spark cluster: ``spark-submit scripts/spark_score.py --help``.

The thin spark-submit face of ``clm.scoring.spark.score_tables`` (``clm score --spark-master``
is the one for this machine); docs/spark.md says how to ship clm's environment to executors.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date

from pyspark.sql import SparkSession
from rich.console import Console

from clm.config import load_section
from clm.scoring.batches import ScoringConfig
from clm.scoring.spark import read_raw_tables, score_tables
from clm.scoring.tables import mix_table, run_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scorer", required=True, help="models:/clm-scorer@champion or a folder")
    parser.add_argument("--input", help="folder (any Spark file system) with usage_monthly.parquet "
                        "and subscribers.parquet")  # fmt: skip
    parser.add_argument("--usage-table", help="catalog table instead of --input")
    parser.add_argument("--subscribers-table", help="catalog table instead of --input")
    parser.add_argument("--out", required=True, help="scores folder; quarantine beside it")
    parser.add_argument("--month", type=date.fromisoformat, help="YYYY-MM-01; default the latest")
    parser.add_argument("--params", default="params.yaml", help="params.yaml (scoring section)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    spark = SparkSession.builder.appName("clm-score").getOrCreate()
    if args.input:
        usage, subscribers = read_raw_tables(spark, args.input)
    elif args.usage_table and args.subscribers_table:
        usage, subscribers = spark.table(args.usage_table), spark.table(args.subscribers_table)
    else:
        parser.error("give --input, or --usage-table and --subscribers-table")
    config = load_section(ScoringConfig, "scoring", args.params)
    summary = score_tables(usage, subscribers, args.scorer, args.out, config, args.month)
    console = Console()
    console.print(run_table(summary.run, args.out, summary.decile_rows_off))
    for column, mix in summary.run.mix.items():
        console.print(mix_table(column, mix))
    spark.stop()


if __name__ == "__main__":
    main()
