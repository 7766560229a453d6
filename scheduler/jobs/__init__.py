"""The periodic jobs, one module per family; each registers its jobs with `scheduler.registry` on import.

A new job module is added to JOB_MODULES: the scheduler imports exactly these, and a listed module that
cannot be imported stops startup (`load_job_modules`), so a job never silently goes missing.
"""

JOB_MODULES: tuple[str, ...] = (
    "scheduler.jobs.enforcement",
    "scheduler.jobs.billing",
    "scheduler.jobs.fleet",
    "scheduler.jobs.network",
)
