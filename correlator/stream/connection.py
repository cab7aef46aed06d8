"""How the worker reaches the broker: bootstrap servers and credentials from its settings."""

import ssl

import faust
from faust.transport.drivers.aiokafka import server_list
from faust.types.auth import CredentialsT
from faust.utils.urls import urllist

from correlator.stream.settings import WorkerSettings


def bootstrap_servers(settings: WorkerSettings) -> list[str]:
    """``kafka://a:9092;kafka://b:9092`` (or ``,``) as aiokafka's ``host:port`` list."""
    return server_list(urllist(settings.broker, default_scheme="kafka"), 9092)


def credentials(settings: WorkerSettings) -> CredentialsT | None:
    protocol = settings.security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=settings.ssl_cafile or None)
        if settings.ssl_certfile:
            context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile or None)
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    return faust.SSLCredentials(context)
