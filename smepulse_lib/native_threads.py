"""How many threads the numerical libraries start in a platform process: OpenMP under
scikit-learn's gradient boosting, BLAS under numpy and statsmodels.

Left to themselves each starts one thread per core in every process that loads it, on top of
DuckDB's and Dagster's threads: on a 2-core machine with a run's other steps busy, fitting the
payment model on 1,223 rows took 315 s instead of 24.6 s with one thread (the threads wait on
each other, not on the data). One setting, ``SMEPULSE_ML_THREADS`` (default 1), for all of them.
Each library reads its variable once, when it loads; ``limit_loaded_libraries`` reaches the ones
loaded before this module could set it.
"""

import os

VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def ml_threads() -> int:
    return max(int(os.environ.get("SMEPULSE_ML_THREADS", "1")), 1)


def limit_native_threads() -> None:
    """Before numpy or scikit-learn loads: a variable the user set stays as set."""
    for name in VARIABLES:
        os.environ.setdefault(name, f"{ml_threads()}")


def limit_loaded_libraries() -> None:
    """The libraries already loaded in this process (their pools are sized at load)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=ml_threads())
