"""Certificates for the TLS tests: a self-signed one for 127.0.0.1/localhost,
made at test time (the `cryptography` package, else `openssl req`; without
either the test skips), and a client context that accepts it."""
import datetime
import shutil
import ssl
import subprocess

import pytest


def make_cert(directory, password=None):
    """A self-signed certificate for 127.0.0.1/localhost -> (certfile, keyfile)."""
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        x509 = None
    if x509 is not None:
        import ipaddress
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                    critical=False)
                .sign(key, hashes.SHA256()))
        encryption = (serialization.BestAvailableEncryption(password.encode())
                      if password else serialization.NoEncryption())
        keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8, encryption))
        certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return str(certfile), str(keyfile)
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("neither the cryptography package nor openssl is available")
    cmd = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-days", "1", "-subj", "/CN=localhost",
           "-keyout", str(keyfile), "-out", str(certfile)]
    cmd += ["-passout", "pass:" + password] if password else ["-nodes"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return str(certfile), str(keyfile)


def client_context():
    """A client context that accepts any certificate, offering ALPN http/1.1."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
