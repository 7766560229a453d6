.PHONY: run test setup lint bench soak

# Set up this host and run everything (API :8080, agent metrics :8179, WHOIS :4343).
run:
	bash scripts/run.sh

# Set up this host and run every test (what CI runs).
test:
	bash scripts/test.sh

setup:
	bash scripts/setup-host.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports --no-logo

bench: setup
	bash scripts/ensure-postgres.sh
	.venv/bin/python -m bench

# The full time-travel simulation: 1,000 contracts over 2 simulated years, invariant counts printed.
# DCLOUD_SIM_SEED=<n> replays a run; DCLOUD_SIM_CONTRACTS and DCLOUD_SIM_MONTHS change its size.
soak:
	.venv/bin/python -m tests.simulation.run
