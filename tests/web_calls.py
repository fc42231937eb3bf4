"""Shared by the web UI's tests: a browser signed in as a member."""

from django.test import Client


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client
