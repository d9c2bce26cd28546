from kernel.migrations import run_env
from tests.integration.kernel.widgets import metadata

run_env(metadata)
