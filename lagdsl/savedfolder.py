"""Reading back a folder lagdsl saved — a field model's (``solve --save``, ``load_fields``)
or a learned policy's (``learn --save``, ``load_policy``): the checks every reader makes
before it trusts a byte of it.

Such a folder may come from anywhere, so nothing in it is executed: the folder must be a
directory, a symbolic link in it must stay inside it, and the weights file must be a torch zip
archive of stored (uncompressed) records whose sizes fit the file, read with
``torch.load(weights_only=True)`` (tensors and plain containers only).
"""
from __future__ import annotations

import io
import os
import pickle
import stat
import zipfile

from .errors import LagDataError
from .frontend.jsontext import quoted


def saved_folder(directory, caller: str, noun: str, command: str) -> str:
    """``directory`` as a path, refused unless it is a directory that can be read (``caller``:
    the API function, ``noun``: what the folder is called in messages, ``command``: what
    writes one)."""
    if not isinstance(directory, (str, os.PathLike)):
        raise LagDataError("%s: a %s is a path, got %s" % (caller, noun, type(directory).__name__))
    directory = os.fspath(directory)
    try:
        st = os.stat(directory)
    except (OSError, ValueError) as e:
        raise LagDataError("%s %s cannot be read: %s" % (
            noun, directory, (getattr(e, "strerror", None) or str(e)).lower())) from None
    if not stat.S_ISDIR(st.st_mode):
        raise LagDataError("%s %s is not a directory" % (noun, directory),
                           hint="name the folder given to %s" % command)
    return directory


def folder_member(directory: str, name: str, noun: str, missing: tuple[str, str] | None = None) -> str:
    """The path of file ``name`` of the folder; a symbolic link must lead to a file inside
    it.  ``missing`` — ``(what the folder then is not, hint)`` — refuses a file that is not
    there (else the reader's own open reports it)."""
    path = os.path.join(directory, name)
    if os.path.islink(path):
        root = os.path.realpath(directory)
        if not os.path.realpath(path).startswith(root.rstrip(os.sep) + os.sep):
            raise LagDataError("%s is a symbolic link to %s, which leads out of the %s"
                               % (path, quoted(os.readlink(path)), noun),
                               hint="a %s holds its own files" % noun)
    if missing is not None and not os.path.lexists(path):
        raise LagDataError("%s %s has no %s: it is not %s (or saving it did not finish)"
                           % (noun, directory, name, missing[0]), hint=missing[1])
    return path


def torch_archive(data: bytes, path: str, command: str):
    """What ``torch.load(weights_only=True)`` reads from ``data`` (the weights file
    ``path``), once the bytes are known to be a torch zip archive of stored records that fit
    the file; anything else is a :class:`LagDataError` naming ``command`` as the writer."""
    import torch

    def fail(why):
        raise LagDataError("weights file %s is not a lagdsl weights file: %s" % (path, why),
                           hint="the folder must hold what %s wrote" % command)

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        # NotImplementedError: zipfile's word for a record of a zip version it does not read
        fail("not a torch zip archive")
    # torch writes records stored, not compressed: a compressed record could expand without bound
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos) or sum(i.file_size for i in infos) > len(data):
        fail("its records are compressed or larger than the file")
    try:
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError:  # weights_only refused a global: something other than tensors
        fail("it holds objects other than tensors, which lagdsl never loads")
    except Exception as e:          # noqa: BLE001 — any failure of the decoder on hostile bytes
        fail("torch cannot read it (%s)" % quoted(str(e).splitlines()[0] if str(e) else type(e).__name__))
