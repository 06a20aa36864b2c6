"""A Spark session for the engine: in this process (`local[*]`) or on a cluster (`sc://…`).

The settings here are the ones correctness needs, not tuning: Arrow transfer with no
fallback (without it NULL doubles came back as NaN and nullable integers as NULL), UTC, and
the driver bound to the loopback interface so a laptop's other networks are left alone.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

# Correctness, whatever the master: results cross to Python through Arrow only.
ARROW = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
}
# A session inside this process: small, quiet, on loopback, with its own warehouse folder
# (a shared ./spark-warehouse makes the next run fail with LOCATION_ALREADY_EXISTS).
LOCAL = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
}


def session(url: str, extra: dict[str, str] | None = None) -> Any:
    """A SparkSession for `url`: a Spark Connect URL (sc://host:port) or a master (local[*])."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("headway")
    options = dict(ARROW)
    if url.startswith("sc://"):
        builder = builder.remote(url)
    else:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.master(url)
        options |= LOCAL | {"spark.sql.warehouse.dir": tempfile.mkdtemp(prefix="headway-spark-")}
    for key, value in (options | (extra or {})).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if not url.startswith("sc://"):
        spark.sparkContext.setLogLevel("ERROR")
    return spark
