"""flexbill's demo and development tools: the local Stripe, the demo's seed data and integrator, and commands that
act in Stripe as a person would in Stripe's dashboard. Installed only with the demo extra; production never imports
this package (pyproject.toml [tool.importlinter])."""
