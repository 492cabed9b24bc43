"""Service-account key files made in the test with a fresh RSA key, pointing at a fake."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.vertex import VertexFake

CLIENT_EMAIL = "vgen-test@vgen-project.iam.gserviceaccount.com"


def write_key_file(path: Path, fake: VertexFake) -> Path:
    """A key file whose `token_uri` is the fake's token endpoint; the fake learns the public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake.public_key, fake.client_email = key.public_key(), CLIENT_EMAIL
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "vgen-project",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "1",
        "token_uri": fake.token_uri,
    }
    path.write_text(json.dumps(info))
    return path
