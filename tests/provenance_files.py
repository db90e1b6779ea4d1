"""Small image files carrying each kind of provenance metadata, built in memory (no network, no fixtures on disk).

The C2PA files are signed for real with c2pa-python, by a throw-away certificate chain made here: their
manifests validate, but the signer is on no trust list.
"""

from __future__ import annotations

import datetime
import io
import json

import numpy as np
from PIL import Image, PngImagePlugin

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
A1111_PARAMETERS = ("a photo of a lighthouse at dusk\nNegative prompt: blurry\nSteps: 28, Sampler: DPM++ 2M Karras, "
                    "CFG scale: 6.5, Seed: 1234, Size: 512x512, Model: sd_xl_base_1.0")
COMFYUI_PROMPT = json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}},
                             "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}}})
COMFYUI_WORKFLOW = json.dumps({"last_node_id": 4, "nodes": [{"id": 3, "type": "KSampler"}]})


def _pixels(seed: int = 0, size: tuple[int, int] = (48, 40)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def encode(image: Image.Image, fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def plain(fmt: str = "PNG", seed: int = 0) -> bytes:
    """The same pixels as every builder below with the same seed, and no metadata."""
    return encode(_pixels(seed), fmt, **({"quality": 95} if fmt == "JPEG" else {}))


def png_with_text(seed: int = 0, compressed: bool = False, **texts: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        info.add_itxt(key, value, zip=True) if compressed else info.add_text(key, value)
    return encode(_pixels(seed), "PNG", pnginfo=info)


def a1111_png(seed: int = 0) -> bytes:
    return png_with_text(seed, parameters=A1111_PARAMETERS)


def comfyui_png(seed: int = 0) -> bytes:
    return png_with_text(seed, compressed=True, prompt=COMFYUI_PROMPT, workflow=COMFYUI_WORKFLOW)


def exif_jpeg(software: str | None = None, make: str | None = None, model: str | None = None,
              user_comment: bytes | None = None, seed: int = 0) -> bytes:
    exif = Image.Exif()
    if software:
        exif[0x0131] = software
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if user_comment is not None:
        exif.get_ifd(0x8769)[0x9286] = user_comment
    return encode(_pixels(seed), "JPEG", quality=95, exif=exif.tobytes())


def a1111_user_comment() -> bytes:
    """EXIF UserComment as Automatic1111 writes it into JPEG/WebP (piexif: 'UNICODE\\0' + UTF-16 big-endian)."""
    return b"UNICODE\0" + A1111_PARAMETERS.encode("utf-16-be")


def xmp_packet(source_type: str, form: str = "attribute") -> bytes:
    """An XMP packet stating an IPTC digital source type, in one of the three RDF spellings tools use."""
    uri = IPTC + source_type
    ns = ('xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
          'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"')
    if form == "attribute":
        body = f'<rdf:Description {ns} Iptc4xmpExt:DigitalSourceType="{uri}"/>'
    elif form == "element":
        body = f"<rdf:Description {ns}><Iptc4xmpExt:DigitalSourceType>{uri}</Iptc4xmpExt:DigitalSourceType></rdf:Description>"
    else:
        body = f'<rdf:Description {ns}><Iptc4xmpExt:DigitalSourceType rdf:resource="{uri}"/></rdf:Description>'
    return (f'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {ns}>'
            f"{body}</rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>").encode()


def xmp_image(fmt: str, source_type: str, form: str = "attribute", seed: int = 0) -> bytes:
    """JPEG (APP1) and WebP ('XMP ' chunk) through Pillow's xmp=; PNG as a compressed iTXt XML:com.adobe.xmp."""
    packet = xmp_packet(source_type, form)
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", packet.decode(), zip=True)
        return encode(_pixels(seed), "PNG", pnginfo=info)
    return encode(_pixels(seed), fmt, xmp=packet, **({"quality": 95} if fmt == "JPEG" else {}))


def _certificate_chain() -> tuple[bytes, bytes]:
    """(leaf + CA certificates PEM, leaf private key PEM): a two-level chain, as C2PA signers require."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Provenance Test Org")])

    def usage(signing_certs: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=signing_certs,
                             crl_sign=signing_certs, encipher_only=False, decipher_only=False)

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def builder(subject: str, issuer: str, public_key) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer)).public_key(public_key)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30)))

    ca = (builder("Test CA", "Test CA", ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(usage(True), critical=True).sign(ca_key, hashes.SHA256()))
    leaf = (builder("Test signer", "Test CA", key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return chain, private


def c2pa_signed(fmt: str = "JPEG", source_type: str = "trainedAlgorithmicMedia", generator: str = "Test Generator",
                seed: int = 0) -> bytes:
    """An image with a real, signed C2PA manifest whose 'c2pa.created' action states `source_type`."""
    import c2pa

    chain, private = _certificate_chain()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, private, None))
    manifest = {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": f"test.{fmt.lower()}",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}]}}],
    }
    mime = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[fmt]
    source = io.BytesIO(plain(fmt, seed))
    signed = io.BytesIO()
    settings = c2pa.Settings.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    with c2pa.Context(settings=settings) as context:
        c2pa.Builder(manifest, context=context).sign(signer, mime, source, signed)
    return signed.getvalue()
