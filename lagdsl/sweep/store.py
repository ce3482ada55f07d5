"""The sweep's output file: ``.jsonl`` (default), ``.csv`` or ``.parquet``, appended in
batches so that a killed sweep leaves only whole rows, read back to resume.

How each format stays whole:

* ``.jsonl`` and ``.csv``: a batch of rows is one ``write`` on a descriptor opened with
  ``O_APPEND`` (looped until every byte is out), then ``fsync``; a write that fails (full
  disk) truncates the file back to where the batch began.  A process killed inside that write
  can leave a torn last row — bytes after the last row end — which :func:`open_store`
  truncates away before resuming (and says so); nothing before it is touched.  For CSV a row
  end is a newline outside quotes (error messages span lines inside a quoted field).
* ``.parquet``: a Parquet file cannot be appended to, so each batch rewrites it whole: a
  temporary file in the same directory, ``fsync``, renamed over the old one.

In CSV and Parquet the ``variables`` and ``duals`` columns hold JSON text (their shapes vary
with ``--collect``); ``objective`` is a float (``inf`` written as in ``solve --json``).

The output path follows lagdsl's output rules: never an input of the run (by path or inode),
never through a symbolic link, never a directory or device.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
import sys
import tempfile
import time

from ..errors import LagError
from .rows import COLUMNS

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", "": "jsonl", ".csv": "csv", ".parquet": "parquet"}


class OutputError(LagError):
    """An output path or file lagdsl refuses (exit 2)."""


def output_format(path: str) -> str:
    """``jsonl``, ``csv`` or ``parquet`` by ``path``'s extension; others are refused."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise OutputError("-o %s: unknown output format %r; the extension names it: .jsonl "
                          "(default), .csv or .parquet" % (path, ext))
    fmt = FORMATS[ext]
    if fmt == "parquet":
        require_pyarrow()
    return fmt


def require_pyarrow() -> None:
    """A user error naming the extra when pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise OutputError("-o *.parquet needs pyarrow: pip install 'lagdsl[parquet]'") from None


# --- output path rules (the lead will switch these to lagdsl/outputs.py) ----------------------

def check_output(path: str, inputs=(), what: str = "-o") -> None:
    """Refuse ``path`` as a sweep's output (rows appended, resumed from) unless it is safe:
    :func:`lagdsl.outputs.check_output_path`'s rules — not an input of the run (by resolved
    path or inode), not a symbolic link, not a directory, in an existing directory — and,
    because the file is appended to and read back, a regular file (no device or FIFO) that
    does not lie in a scenario directory.  ``inputs`` are ``(what, path)`` pairs ("model
    file", "scenario file", ...); a path of None is skipped."""
    from ..frontend.files import InputFile
    from ..outputs import OutputPathError, check_output_path
    files, folders = [], []
    for kind, inp in inputs:
        if inp is None:
            continue
        inp = os.fspath(inp)
        with contextlib.suppress(OSError):
            st = os.stat(inp)
            if stat.S_ISDIR(st.st_mode):
                folders.append((kind, inp))
            else:
                files.append(InputFile(inp, kind, os.path.realpath(inp), st.st_dev, st.st_ino))
    check_output_path(path, files, what)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise OutputPathError("%s %s: is not a regular file; a sweep appends to and resumes "
                                  "from a file" % (what, path))
    real_dir = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for kind, folder in folders:
        if real_dir == os.path.realpath(folder):
            raise OutputPathError("%s %s: is in the %s %s of this run, where it would be read as a "
                                  "scenario" % (what, path, kind, folder),
                                  hint="choose an output outside that directory")


def backup(path: str) -> str | None:
    """Move an existing output aside for ``--restart``: ``OUT.bak`` (``OUT.bak.1`` ... when
    taken), never over another file; returns the backup's name, or None when there was none."""
    if not os.path.lexists(path):
        return None
    n = 0
    while True:
        target = path + ".bak" + ("" if n == 0 else ".%d" % n)
        try:
            os.link(path, target)       # fails if target exists: no backup is ever replaced
        except FileExistsError:
            n += 1
            continue
        os.unlink(path)
        return target


# --- reading back ------------------------------------------------------------------------------

_INF = {"inf": float("inf"), "-inf": float("-inf")}


def _from_json_num(v):
    return _INF.get(v, v) if isinstance(v, str) else v


def _to_json_num(v):
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    return v


def _json_row(row: dict) -> str:
    out = dict(row)
    for k in ("objective", "max_violation"):
        out[k] = _to_json_num(out.get(k))
    return json.dumps(out, allow_nan=False, default=str)


def parse_json_row(text: str, where: str) -> dict:
    """One JSONL row; a line that is not a sweep row is refused at ``where``."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError as e:
        raise OutputError("%s:%d: not a sweep row: %s; resuming needs the file a sweep wrote"
                          % (where, e.colno, e.msg)) from None
    if not isinstance(row, dict) or not isinstance(row.get("id"), str) or "status" not in row:
        raise OutputError("%s: not a sweep row (no \"id\" and \"status\"); resuming needs the file "
                          "a sweep wrote" % where)
    for k in ("objective", "max_violation"):
        row[k] = _from_json_num(row.get(k))
    return row


def _cell_float(v):
    return None if v in ("", None) else float(v)


def _csv_row(rec: dict) -> dict:
    row = dict(rec)
    for k in ("objective", "max_violation", "time_s"):
        row[k] = _cell_float(row.get(k))
    row["error"] = row.get("error") or None
    for k in ("variables", "duals"):
        row[k] = json.loads(row[k]) if row.get(k) else {}
    return row


def _whole_jsonl(data: bytes) -> int:
    """Length of the leading part of ``data`` made of whole lines."""
    return data.rfind(b"\n") + 1


def _whole_csv(data: bytes) -> int:
    """Length of the leading part of ``data`` made of whole CSV records: up to the last
    newline outside a quoted field (a quote inside one is written doubled, so counting quotes
    tells inside from outside)."""
    end, inside = 0, False
    pos = 0
    while True:
        q = data.find(b'"', pos)
        nl = data.find(b"\n", pos)
        if nl < 0:
            return end
        if 0 <= q < nl:
            inside = not inside
            pos = q + 1
            continue
        if not inside:
            end = nl + 1
        pos = nl + 1


class Store:
    """The output file of one sweep: the rows already in it (``rows``, by id) and
    :meth:`append` for more."""

    def __init__(self, path: str, fmt: str, rows: dict, note: str | None = None):
        self.path, self.fmt, self.rows, self.note = path, fmt, rows, note
        self._table = None          # parquet: every row so far, rewritten per batch

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str, fmt: str) -> "Store":
        """Read what ``path`` holds (nothing if it does not exist), cutting a torn last row."""
        if not os.path.exists(path):
            return cls(path, fmt, {})
        if fmt == "parquet":
            return cls._open_parquet(path)
        with open(path, "rb") as fh:
            data = fh.read()
        whole = (_whole_csv if fmt == "csv" else _whole_jsonl)(data)
        note = None
        if whole < len(data):
            # Bytes after the last whole row: a sweep killed while writing.  They are no row;
            # the scenario they began is run again.
            with open(path, "r+b") as fh:
                fh.truncate(whole)
                fh.flush()
                os.fsync(fh.fileno())
            note = "dropped an incomplete last row (%d bytes) of %s: a sweep was stopped while " \
                   "writing it; its scenario runs again" % (len(data) - whole, path)
            data = data[:whole]
        text = data.decode("utf-8")
        rows = cls._read_csv(path, text) if fmt == "csv" else cls._read_jsonl(path, text)
        return cls(path, fmt, rows, note)

    @staticmethod
    def _read_jsonl(path: str, text: str) -> dict:
        rows: dict = {}
        for n, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                row = parse_json_row(line, "%s:%d" % (path, n))
                rows.setdefault(row["id"], row)
        return rows

    @staticmethod
    def _read_csv(path: str, text: str) -> dict:
        if not text:
            return {}
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise OutputError("%s:1: not a sweep result file: its header is %s, a sweep writes %s"
                              % (path, ",".join(reader.fieldnames or ()), ",".join(COLUMNS)))
        rows: dict = {}
        for rec in reader:
            try:
                row = _csv_row(rec)
            except (ValueError, TypeError) as exc:
                raise OutputError("%s:%d: not a sweep row: %s" % (path, reader.line_num, exc)) from None
            rows.setdefault(row["id"], row)
        return rows

    @classmethod
    def _open_parquet(cls, path: str) -> "Store":
        import pyarrow.parquet as pq
        try:
            table = pq.read_table(path)
        except Exception as exc:     # pyarrow raises its own ArrowInvalid for a non-parquet file
            raise OutputError("%s: not a Parquet file a sweep wrote (%s)" % (path, exc)) from None
        if tuple(table.column_names) != COLUMNS:
            raise OutputError("%s: not a sweep result file: its columns are %s" % (path, ",".join(table.column_names)))
        rows = {}
        for rec in table.to_pylist():
            for k in ("variables", "duals"):
                rec[k] = json.loads(rec[k]) if rec.get(k) else {}
            rows.setdefault(rec["id"], rec)
        store = cls(path, "parquet", rows)
        store._table = table
        return store

    # -- writing -----------------------------------------------------------------------------
    def append(self, rows: list[dict]) -> None:
        """Add ``rows`` to the file, all or none of them."""
        if not rows:
            return
        if self.fmt == "parquet":
            self._append_parquet(rows)
        else:
            new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
            text = self._csv_text(rows, header=new) if self.fmt == "csv" else \
                "".join(_json_row(r) + "\n" for r in rows)
            self._append_bytes(text.encode("utf-8"))
        for r in rows:
            self.rows.setdefault(r["id"], r)

    def _append_bytes(self, data: bytes) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o666)
        try:
            start = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                os.fsync(fd)
            except OSError:
                # a full disk mid-batch: keep only the rows that were whole before it
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)

    @staticmethod
    def _csv_text(rows: list[dict], header: bool) -> str:
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        if header:
            w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r["id"], r["status"], _csv_num(r["objective"]), _csv_num(r["max_violation"]),
                        _csv_num(r["time_s"]), r["error"] if r["error"] is not None else "",
                        json.dumps(r["variables"]), json.dumps(r["duals"])])
        return buf.getvalue()

    def _append_parquet(self, rows: list[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq
        schema = pa.schema([("id", pa.string()), ("status", pa.string()), ("objective", pa.float64()),
                            ("max_violation", pa.float64()), ("time_s", pa.float64()),
                            ("error", pa.string()), ("variables", pa.string()), ("duals", pa.string())])
        cols = {k: [r[k] for r in rows] for k in COLUMNS}
        for k in ("variables", "duals"):
            cols[k] = [json.dumps(v) for v in cols[k]]
        batch = pa.Table.from_pydict(cols, schema=schema)
        table = batch if self._table is None else pa.concat_tables([self._table.cast(schema), batch])
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(self.path) + ".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._table = table


def _csv_num(v) -> str:
    if v is None:
        return ""
    return repr(float(v))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Batcher:
    """Rows gathered in memory and written to a :class:`Store` at most every ``interval``
    seconds (and by :meth:`flush`): fewer, larger writes, each whole."""

    def __init__(self, store: Store | None, interval: float = 1.0):
        self.store, self.interval = store, interval
        self.pending: list[dict] = []
        self.last = time.monotonic()

    def add(self, rows: list[dict]) -> None:
        """Queue ``rows``; write the queue when ``interval`` has passed since the last write."""
        self.pending.extend(rows)
        if time.monotonic() - self.last >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Write every queued row now."""
        rows, self.pending = self.pending, []      # taken first: a second flush never repeats them
        if self.store is not None and rows:
            t0 = time.monotonic()
            with _ctrl_c_deferred():
                self.store.append(rows)
            if self.store.fmt == "parquet":
                # each parquet batch rewrites the file: keep that under a tenth of the run
                self.interval = max(self.interval, 10 * (time.monotonic() - t0))
        self.last = time.monotonic()


@contextlib.contextmanager
def _ctrl_c_deferred():
    """Hold a Ctrl-C that comes while a batch is written until the batch is whole: otherwise
    it would land between two ``write`` calls and tear the last row (or, caught by the caller
    that then writes what is left, write rows twice)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old if old is not None else signal.default_int_handler)
    if seen:
        raise KeyboardInterrupt


def note(text: str) -> None:
    """A ``note:`` line on stderr."""
    from ..errors import printable
    print("note: %s" % printable(text, False), file=sys.stderr)
