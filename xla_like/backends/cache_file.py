"""The persistent cache's file format: what `disk_cache` writes and checks before use.

    magic (8 bytes) | format version (u32) | sha256 of the payload (32) | payload length (u64)
    payload: metadata length (u32) | metadata (JSON) | object code | optimized LLVM text (zlib)

`decode` trusts nothing it reads: every length is checked against the bytes there are before
it is used, so a corrupted or hostile file raises `Rejected` and is never run.
"""
from __future__ import annotations

import hashlib
import json
import struct
import zlib

MAGIC = b"JCOBJ\x00\r\n"   # the \r\n catches files mangled by a text-mode copy
FORMAT_VERSION = 2
_HEADER = struct.Struct("<8sI32sQ")
_META_LEN = struct.Struct("<I")
HEADER_SIZE = _HEADER.size
_ZLIB_MAX_RATIO = 1032         # no zlib stream inflates more: a larger claimed size is a lie


class Entry:
    """A loaded cache file: the metadata, the object code and the optimized LLVM text."""

    __slots__ = ("meta", "obj", "text", "path")

    def __init__(self, meta, obj, text, path):
        self.meta = meta
        self.obj = obj
        self.text = text
        self.path = path


class Rejected(Exception):
    """A cache file that must not be used (the message says why)."""


def encode(key_hex: str, meta: dict, obj: bytes, text: str, producer: str) -> bytes:
    raw_text = text.encode()
    packed_text = zlib.compress(raw_text, 6)
    meta = dict(meta, key=key_hex, format=FORMAT_VERSION, producer_version=producer,
                object_size=len(obj), text_size=len(packed_text), text_bytes=len(raw_text),
                text_sha256=hashlib.sha256(raw_text).hexdigest())
    meta_bytes = json.dumps(meta, sort_keys=True).encode()
    payload = b"".join([_META_LEN.pack(len(meta_bytes)), meta_bytes, obj, packed_text])
    digest = hashlib.sha256(payload).digest()
    return _HEADER.pack(MAGIC, FORMAT_VERSION, digest, len(payload)) + payload


def parse_header(data):
    """(payload checksum, payload length) from a file's first bytes; raises Rejected."""
    if len(data) == 0:
        raise Rejected("empty file")
    if len(data) < _HEADER.size:
        raise Rejected(f"truncated ({len(data)} bytes, shorter than the header)")
    magic, version, digest, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise Rejected("not a jitcore cache file (bad magic)")
    if version != FORMAT_VERSION:
        raise Rejected(f"format version {version}, this jitcore reads {FORMAT_VERSION}")
    return digest, length


def decode(data: bytes, key_hex: str):
    """(metadata, object code, optimized text) of a file's bytes; raises Rejected."""
    digest, length = parse_header(data)
    payload = memoryview(data)[_HEADER.size:]
    if len(payload) != length:
        raise Rejected(f"truncated or padded (payload {len(payload)} bytes, header says "
                       f"{length})")
    if hashlib.sha256(payload).digest() != digest:
        raise Rejected("corrupted (payload checksum mismatch)")
    if length < _META_LEN.size:
        raise Rejected("no metadata")
    (meta_len,) = _META_LEN.unpack_from(payload)
    end = _META_LEN.size + meta_len
    try:
        meta = json.loads(bytes(payload[_META_LEN.size:end]))
    except ValueError:
        raise Rejected("unreadable metadata") from None
    if not isinstance(meta, dict):
        raise Rejected("unreadable metadata")
    if meta.get("key") != key_hex:
        raise Rejected("written for another key (a foreign file)")
    obj_size, text_size, text_bytes = (meta.get(k) for k in
                                       ("object_size", "text_size", "text_bytes"))
    if not all(type(n) is int and n >= 0 for n in (obj_size, text_size, text_bytes)) or \
            end + obj_size + text_size != length:
        raise Rejected("section sizes do not add up")
    if text_bytes > _ZLIB_MAX_RATIO * text_size + 64:
        raise Rejected(f"LLVM text claims {text_bytes} bytes, more than {text_size} packed "
                       f"bytes can hold")
    obj = bytes(payload[end:end + obj_size])
    try:   # bounded: a corrupted stream cannot inflate past what the metadata says
        inflate = zlib.decompressobj()
        raw = inflate.decompress(payload[end + obj_size:], text_bytes)
        text = raw.decode() if len(raw) == text_bytes and inflate.eof else None
    except (zlib.error, UnicodeDecodeError):
        text = None
    if text is None:
        raise Rejected("unreadable LLVM text")
    if hashlib.sha256(raw).hexdigest() != meta.get("text_sha256"):
        raise Rejected("LLVM text checksum mismatch")
    return meta, obj, text
