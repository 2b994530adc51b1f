// Python modules of Eunha's own that live in the sandbox beside spin_sdk: the guest end of the
// /dev/eunha byte bridge (_eunha_io), the entry points the host calls (_eunha_main: load,
// dispatch), the import lock that runs once per booted sandbox (_eunha_harden), the event loop
// that replaces Pyodide's browser-bound one (_eunha_asyncio) and what hashlib lacks without
// OpenSSL (_eunha_hashlib).

import {
  MAX_ERROR_MESSAGE_CHARS,
  MAX_RESPONSE_HEADER_CHARS,
  MAX_RESPONSE_HEADERS,
  MAX_TRACEBACK_CHARS,
} from '../answer-limits.js';

export const GUEST_FILES: Record<string, string> = {
  '_eunha_io.py': `"""Frames over /dev/eunha: u32 header length, u32 body length, JSON header, body bytes."""
import json
import operator
import os
import struct

_fd = -1


def _dev() -> int:
    global _fd
    if _fd < 0:
        _fd = os.open("/dev/eunha", os.O_RDWR)
    return _fd


def _read_exact(n: int) -> bytes:
    parts = []
    while n > 0:
        chunk = os.read(_dev(), n)
        if not chunk:
            raise EOFError("eunha bridge closed")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def read_frame():
    hlen, blen = struct.unpack("<II", _read_exact(8))
    data = _read_exact(hlen + blen)
    return json.loads(data[:hlen]), data[hlen:]


def write_frame(header: dict, body: bytes = b"") -> None:
    h = json.dumps(header, separators=(",", ":")).encode()
    os.write(_dev(), struct.pack("<II", len(h), len(body)) + h + body)


def call(header: dict, body: bytes = b""):
    write_frame(header, body)
    return read_frame()


_DAY_MS = 86_400_000


def sleep(seconds) -> None:
    """time.sleep: the host blocks this thread until the time is up or the deadline comes.
    Emscripten's sleep spins, burning a core, and hides from the timeout's interrupt."""
    if not isinstance(seconds, (int, float)):
        seconds = operator.index(seconds)
    if seconds != seconds:
        raise ValueError("Invalid value NaN (not a number)")
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    ms = seconds * 1000
    while ms > 0:
        step = min(ms, _DAY_MS)
        header, _ = call({"t": "sleep", "ms": step})
        if header.get("timedOut"):
            raise KeyboardInterrupt
        ms -= step
`,
  '_eunha_main.py': `"""Entry points the host calls with no arguments; all data moves through _eunha_io frames."""
import importlib
import os
import sys
import traceback

import _eunha_io
from spin_sdk import variables
from spin_sdk.http import IncomingHandler as _Base, Request, Response
from spin_sdk.wit.imports import key_value as _kv

MAX_RESPONSE_BYTES = 6 * 1024 * 1024
MAX_RESPONSE_HEADERS = ${MAX_RESPONSE_HEADERS}
MAX_RESPONSE_HEADER_CHARS = ${MAX_RESPONSE_HEADER_CHARS}
# Cut a little short of the host's caps, so that with the marker they still fit and are not cut twice.
_MESSAGE_CHARS = ${MAX_ERROR_MESSAGE_CHARS} - 64
_TRACEBACK_CHARS = ${MAX_TRACEBACK_CHARS} - 64
_handler = None


def _clip_head(text: str, n: int) -> str:
    return text if len(text) <= n else f"{text[:n]}… [{len(text) - n} more characters]"


def _clip_tail(text: str, n: int) -> str:
    return text if len(text) <= n else f"[{len(text) - n} earlier characters dropped] …{text[-n:]}"


def _failure(e: BaseException) -> dict:
    """An exception's message and traceback, cut to what the host keeps: a 5 MB message used to
    overflow the bridge's frame and crash the sandbox."""
    return {"message": _clip_head(f"{type(e).__name__}: {e}", _MESSAGE_CHARS),
            "traceback": _clip_tail("".join(traceback.format_exception(e)), _TRACEBACK_CHARS)}


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def load() -> None:
    """Import /app/app.py and find IncomingHandler; answer {ok, error, traceback}."""
    global _handler
    header, _ = _eunha_io.read_frame()
    os.environ.clear()
    os.environ.update(header["env"])
    # Emscripten names the host's script (the platform's install path) as the interpreter: an
    # embedded interpreter has none to name.
    sys.executable = sys._base_executable = ""
    sys.orig_argv = []
    variables._install(header["variables"])
    sys.path.insert(0, "/app")
    os.chdir("/app")
    try:
        module = importlib.import_module("app")
        cls = getattr(module, "IncomingHandler", None)
        if not isinstance(cls, type):
            raise LookupError("app.py does not define a class named IncomingHandler")
        method = getattr(cls, "handle_request", None)
        if not callable(method) or method is _Base.handle_request:
            raise LookupError("IncomingHandler does not implement handle_request(self, request)")
        _handler = cls()
        reply = {"t": "loaded", "ok": True}
    except BaseException as e:
        failure = _failure(e)
        reply = {"t": "loaded", "ok": False, "error": failure["message"], "traceback": failure["traceback"]}
    _flush()
    _eunha_io.write_frame(reply)


def _shape(resp):
    if not isinstance(resp, Response):
        raise TypeError(f"handle_request must return spin_sdk.http.Response, not {type(resp).__name__}")
    status = resp.status
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"invalid response status {status!r}")
    headers = {}
    chars = 0
    for k, v in dict(resp.headers or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"response headers must map str to str: {k!r} maps to {type(v).__name__}")
        headers[k] = v
        chars += len(k) + len(v)
    if len(headers) > MAX_RESPONSE_HEADERS:
        raise ValueError(f"the response has {len(headers)} headers; at most {MAX_RESPONSE_HEADERS} are allowed")
    if chars > MAX_RESPONSE_HEADER_CHARS:
        raise ValueError(
            f"the response headers have {chars} characters; at most {MAX_RESPONSE_HEADER_CHARS} are allowed"
        )
    body = resp.body
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    elif isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    elif not isinstance(body, bytes):
        raise TypeError(f"response body must be bytes, not {type(body).__name__}")
    if len(body) > MAX_RESPONSE_BYTES:
        raise OverflowError(
            f"response body of {len(body)} bytes exceeds the {MAX_RESPONSE_BYTES} byte cap"
        )
    return status, headers, body


def _run_awaitable(awaitable):
    import asyncio

    async def wait():
        return await awaitable

    return asyncio.run(wait())


def dispatch() -> None:
    """Serve one request: read it from the bridge, call the handler, write the response."""
    header, body = _eunha_io.read_frame()
    request = Request(header["method"], header["uri"], dict(header["headers"]), bytes(body))
    _kv._begin_request()
    try:
        resp = _handler.handle_request(request)
        # An async def handle_request (Spin's later templates) gives a coroutine: run it here.
        if not isinstance(resp, Response) and hasattr(resp, "__await__"):
            resp = _run_awaitable(resp)
        status, headers, out = _shape(resp)
        reply = {"t": "resp", "status": status, "headers": headers}
    except BaseException as e:
        # The host tells the deadline's interrupt from a KeyboardInterrupt the handler raised.
        traceback.print_exception(e)
        reply = {"t": "resp", "status": 500, "headers": {}, "error": "FUNCTION_ERROR",
                 "interrupted": isinstance(e, KeyboardInterrupt), **_failure(e)}
        out = b""
    _flush()
    _eunha_io.write_frame(reply, out)
`,
  '_eunha_asyncio.py': `"""asyncio without a browser. Pyodide runs coroutines on its WebLoop, which needs JavaScript
(guest code never gets any): asyncio.run failed with "No module named 'pyodide_js'". This loop
runs coroutines, tasks, futures and timers on the sandbox's one thread. There is no I/O to wait
on (no sockets, no threads), so waiting is sleeping until the next timer, and a loop left with
nothing to wake it raises instead of hanging until the function's timeout."""
import asyncio
import asyncio.events
import asyncio.runners
import errno
import selectors
import time


class _Timers(selectors.BaseSelector):
    def register(self, fileobj, events, data=None):
        raise OSError(errno.ENOTSUP, "the Eunha sandbox has no I/O for an event loop to wait on")

    def unregister(self, fileobj):
        raise KeyError(fileobj)

    def select(self, timeout=None):
        if timeout is None:
            raise RuntimeError("the event loop would wait forever: no task can run and no timer is due")
        if timeout > 0:
            time.sleep(timeout)
        return []

    def get_map(self):
        return {}

    def close(self):
        pass


def _no_io(what):
    async def refuse(self, *args, **kwargs):
        raise OSError(errno.ENOTSUP, f"{what} is not available in the Eunha sandbox (no network, no processes)")
    return refuse


class SandboxEventLoop(asyncio.BaseEventLoop):
    def __init__(self):
        super().__init__()
        self._selector = _Timers()

    def _process_events(self, event_list):
        pass

    def _write_to_self(self):
        pass

    create_connection = _no_io("create_connection")
    create_server = _no_io("create_server")
    create_datagram_endpoint = _no_io("create_datagram_endpoint")
    create_unix_connection = _no_io("create_unix_connection")
    create_unix_server = _no_io("create_unix_server")
    subprocess_exec = _no_io("subprocess_exec")
    subprocess_shell = _no_io("subprocess_shell")
    getaddrinfo = _no_io("getaddrinfo")


class _Policy(asyncio.events._BaseDefaultEventLoopPolicy):
    _loop_factory = SandboxEventLoop


def install() -> None:
    """Undo Pyodide's WebLoop: its policy, its asyncio.run, and the loop it marks as running."""
    asyncio.events._set_event_loop_policy(_Policy())
    asyncio.run = asyncio.runners.run
    asyncio.events._set_running_loop(None)
`,
  '_eunha_hashlib.py': `"""hashlib.pbkdf2_hmac and hashlib.scrypt, which need OpenSSL: Pyodide has none, and CPython 3.12
dropped the pure-Python PBKDF2, so password hashing code failed with AttributeError. The sandbox's
thread derives the key with Node's crypto (runtime/host/kdf.ts): bytes and numbers over the bridge."""
import hashlib
import operator

import _eunha_io


def _bytes(name, value):
    try:
        return bytes(memoryview(value))
    except TypeError:
        raise TypeError(f"{name} must be a bytes-like object, not {type(value).__name__}") from None


def _derive(header, password, salt):
    header["t"] = "kdf"
    header["passwordBytes"] = len(password)
    reply, key = _eunha_io.call(header, password + salt)
    if reply.get("timedOut"):
        # Priced past the request's deadline: the host waited it out instead of running it.
        raise KeyboardInterrupt
    if not reply.get("ok"):
        raise ValueError(reply.get("message", "key derivation failed"))
    return bytes(key)


def pbkdf2_hmac(hash_name, password, salt, iterations, dklen=None):
    if not isinstance(hash_name, str):
        raise TypeError(f"hash_name must be a str, not {type(hash_name).__name__}")
    password = _bytes("password", password)
    salt = _bytes("salt", salt)
    iterations = operator.index(iterations)
    if iterations < 1:
        raise ValueError("iteration value must be greater than 0.")
    dklen = hashlib.new(hash_name).digest_size if dklen is None else operator.index(dklen)
    if dklen < 1:
        raise ValueError("key length must be greater than 0.")
    header = {"alg": "pbkdf2", "hash": hash_name, "iterations": iterations, "dklen": dklen}
    return _derive(header, password, salt)


def scrypt(password, *, salt, n, r, p, maxmem=0, dklen=64):
    password = _bytes("password", password)
    salt = _bytes("salt", salt)
    n, r, p, maxmem, dklen = (operator.index(v) for v in (n, r, p, maxmem, dklen))
    header = {"alg": "scrypt", "n": n, "r": r, "p": p, "maxmem": maxmem, "dklen": dklen}
    return _derive(header, password, salt)


def install() -> None:
    for name, fn in (("pbkdf2_hmac", pbkdf2_hmac), ("scrypt", scrypt)):
        if not hasattr(hashlib, name):
            setattr(hashlib, name, fn)
`,
  '_eunha_harden.py': `"""Run once after boot: drop every module that hands out JavaScript objects, block re-import."""
import sys

BLOCKED = frozenset({
    "js", "pyodide_js", "pyodide", "_pyodide", "_pyodide_core", "micropip", "pyodide_http",
    "ctypes", "_ctypes", "_eunha_harden",
})


class _Blocker:
    """First meta-path finder: refuses the modules above (and their submodules)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

    @staticmethod
    def invalidate_caches():
        pass


def harden() -> None:
    for name in list(sys.modules):
        if name.partition(".")[0] in BLOCKED:
            del sys.modules[name]
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(type(f), "__module__", "").startswith("_pyodide")
                        and type(f).__name__ != "JsFinder"]
    sys.meta_path.insert(0, _Blocker())
    import gc
    gc.collect()
`,
};

/** Stdlib modules imported before the memory snapshot so a new instance does not pay for them. */
export const PREIMPORT = [
  'json',
  'logging',
  'dataclasses',
  'traceback',
  'typing',
  'io',
  'os',
  'sys',
  'base64',
  'hashlib',
  're',
  'datetime',
  'urllib.parse',
  'collections',
  'struct',
  'importlib',
  'spin_sdk',
  'spin_sdk.http',
  'spin_sdk.key_value',
  'spin_sdk.variables',
  '_eunha_io',
  '_eunha_main',
  '_eunha_asyncio',
  '_eunha_hashlib',
];
