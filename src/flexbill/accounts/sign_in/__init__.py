"""Signing in: who a typed e-mail means, where a request comes from, and how failed attempts are throttled."""
