"""Names other code refers to (jobs, sensors, run tags): spelled here once and imported."""

# Jobs. The daily job builds every source's bronze through gold; the landed-days job is what the
# drop sensor runs: the daily job's assets and the ML job's in one run.
DAILY_JOB = "daily_sources_job"
ML_JOB = "daily_ml_job"
LANDED_JOB = "landed_days_job"
REFERENCE_JOB = "reference_data_job"
REPORTS_JOB = "daily_reports_job"
DOCS_JOB = "data_docs_job"
LAG_JOB = "newest_day_lag_job"
SALES_DB_JOB = "sales_db_job"  # built only where a sales database is configured
# Jobs renamed since runs were recorded under their former names (the UI keeps listing those
# runs under the name they ran as): an alert a run of the former name opened is the same alert.
FORMER_JOB_NAMES = {"daily_ar_job": DAILY_JOB}


def current_job_name(job_name: str) -> str:
    return FORMER_JOB_NAMES.get(job_name, job_name)


# Sensors
DROP_SENSOR = "landing_drop_sensor"
ML_SENSOR = "ml_after_daily_sensor"
REPORTS_SENSOR = "reports_after_ml_sensor"
SEED_SENSOR = "reference_seed_sensor"
ALERT_SENSOR = "quality_alert_sensor"
SALES_DB_SCHEDULE = "sales_db_nightly"

# Dagster's run tags for a partition and a single-run partition range.
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# The platform's own run tags: the sources a drop run was requested for, the seeds that changed.
SOURCES_TAG = "smepulse/sources"
# An asset's tag naming the column that says which day a row belongs to, for tables rebuilt by day.
DAY_COLUMN_TAG = "smepulse/day_column"
# An asset's tag: how many of its newest days the serving copy keeps (the model's serving_days meta).
SERVING_DAYS_TAG = "smepulse/serving_days"
CHANGED_SEEDS_TAG = "smepulse/changed_seeds"
