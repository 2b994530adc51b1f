// The `spin_sdk` package that guest code imports, written for Eunha (not copied from Fermyon's):
// the Spin 3 Python SDK's synchronous surface — http.Request/Response/IncomingHandler,
// variables.get, key_value.open/open_default → Store, http.send — with the same names,
// bytes-vs-str types and `Err(...)` error shapes, backed by the /dev/eunha bridge instead of WIT
// imports.

export const SPIN_SDK_FILES: Record<string, string> = {
  'spin_sdk/__init__.py': `"""Eunha's implementation of the Spin Python SDK (Spin 3, synchronous API)."""

_ABSENT = ("sqlite", "redis", "mysql", "postgres", "llm", "mqtt")


def __getattr__(name):
    # \`from spin_sdk import sqlite\` said only "cannot import name": say what there is instead.
    if name in _ABSENT:
        raise ImportError(
            f"spin_sdk.{name} is not available on Eunha: functions have spin_sdk.http (with send), "
            "spin_sdk.key_value and spin_sdk.variables"
        )
    raise AttributeError(f"module 'spin_sdk' has no attribute {name!r}")
`,
  'spin_sdk/wit/__init__.py': ``,
  'spin_sdk/wit/imports/__init__.py': ``,
  'spin_sdk/wit/types.py': `"""Result helpers shaped like componentize-py's: failures are raised as Err(value)."""
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
E = TypeVar("E")


@dataclass
class Some(Generic[T]):
    value: T


@dataclass
class Ok(Generic[T]):
    value: T


class Err(Exception, Generic[E]):
    """Raised by SDK calls that fail; \`value\` holds the Error_* case."""

    def __init__(self, value: E) -> None:
        super().__init__(value)
        self.value = value
`,
  'spin_sdk/wit/imports/key_value.py': `"""Key-value stores, persisted by the Eunha host and scoped to this function."""
from dataclasses import dataclass
from typing import List, Optional

from spin_sdk.wit.types import Err
import _eunha_io


@dataclass
class Error_StoreTableFull:
    pass


@dataclass
class Error_NoSuchStore:
    pass


@dataclass
class Error_AccessDenied:
    pass


@dataclass
class Error_Other:
    value: str


_MAX_OPEN = 16
_open_count = 0


def _begin_request() -> None:
    """Spin gives each request a fresh instance, so a store opened without \`with\` is gone when
    the request ends. Here the instance lives on: the count of open stores starts again with each
    request (a handle kept from an earlier one still works), or 16 requests would exhaust it."""
    global _open_count
    _open_count = 0


def _raise(reply: dict) -> None:
    kind = reply.get("error")
    if kind == "no-such-store":
        raise Err(Error_NoSuchStore())
    if kind == "access-denied":
        raise Err(Error_AccessDenied())
    raise Err(Error_Other(str(reply.get("message", "key-value store error"))))


class Store:
    """An open key-value store. Use as a context manager to close it."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._open = True

    @classmethod
    def open(cls, label: str) -> "Store":
        global _open_count
        if not isinstance(label, str):
            raise TypeError("store label must be a str")
        reply, _ = _eunha_io.call({"t": "kv", "op": "open", "store": label})
        if not reply.get("ok"):
            _raise(reply)
        if _open_count >= _MAX_OPEN:
            raise Err(Error_StoreTableFull())
        _open_count += 1
        return cls(label)

    def _call(self, op: str, key: Optional[str] = None, value: bytes = b""):
        if not self._open:
            raise Err(Error_Other("store is closed"))
        header = {"t": "kv", "op": op, "store": self._label}
        if key is not None:
            if not isinstance(key, str):
                raise TypeError("key must be a str")
            header["key"] = key
        reply, body = _eunha_io.call(header, value)
        if not reply.get("ok"):
            _raise(reply)
        return reply, body

    def get(self, key: str) -> Optional[bytes]:
        reply, body = self._call("get", key)
        return bytes(body) if reply.get("found") else None

    def set(self, key: str, value: bytes) -> None:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError("value must be bytes")
        self._call("set", key, bytes(value))

    def delete(self, key: str) -> None:
        self._call("delete", key)

    def exists(self, key: str) -> bool:
        reply, _ = self._call("exists", key)
        return bool(reply.get("exists"))

    def get_keys(self) -> List[str]:
        reply, _ = self._call("keys")
        return [str(k) for k in reply.get("keys", [])]

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        global _open_count
        if self._open:
            self._open = False
            _open_count -= 1
`,
  'spin_sdk/key_value.py': `"""Module for accessing Spin key-value stores."""
from spin_sdk.wit.imports.key_value import Store


def open(name: str) -> Store:
    """Open the store with the given label ("default" is the default store)."""
    return Store.open(name)


def open_default() -> Store:
    """Open the default store."""
    return Store.open("default")
`,
  'spin_sdk/wit/imports/variables.py': `"""Errors raised by spin_sdk.variables, shaped like Spin's."""
from dataclasses import dataclass


@dataclass
class Error_InvalidName:
    value: str


@dataclass
class Error_Undefined:
    value: str


@dataclass
class Error_Provider:
    value: str


@dataclass
class Error_Other:
    value: str
`,
  'spin_sdk/variables.py': `"""Module for reading the function's configuration variables."""
import re

from spin_sdk.wit.types import Err
from spin_sdk.wit.imports.variables import Error_InvalidName, Error_Undefined

_values: dict = {}
_NAME = re.compile(r"^[a-z0-9_]+$")


def _install(values: dict) -> None:
    _values.clear()
    _values.update({str(k): str(v) for k, v in values.items()})


def get(key: str) -> str:
    """Return the value of the variable \`key\`; raise Err(Error_Undefined) if it has none."""
    if key in _values:
        return _values[key]
    if not isinstance(key, str) or not _NAME.match(key):
        raise Err(Error_InvalidName(str(key)))
    raise Err(Error_Undefined(f"no variable for {key!r}"))
`,
  'spin_sdk/http/__init__.py': `"""HTTP request/response types and the handler base class, as in the Spin Python SDK."""
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Optional

import _eunha_io
from spin_sdk.wit.types import Err


@dataclass
class Request:
    """An HTTP request."""
    method: str
    uri: str
    headers: MutableMapping[str, str]
    body: Optional[bytes]


@dataclass
class Response:
    """An HTTP response."""
    status: int
    headers: MutableMapping[str, str]
    body: Optional[bytes]


class IncomingHandler:
    """Subclass this as \`IncomingHandler\` in app.py and implement handle_request (def or async def)."""

    def handle_request(self, request: Request) -> Response:
        raise NotImplementedError


def __getattr__(name):
    # The Spin Python SDK 4 template imports Handler: say which API this is, not "cannot import name".
    if name == "Handler":
        raise ImportError(
            "spin_sdk.http.Handler is the Spin Python SDK 4 API; Eunha provides the SDK 3 API: "
            "class IncomingHandler(spin_sdk.http.IncomingHandler) with handle_request (def or async def)"
        )
    raise AttributeError(f"module 'spin_sdk.http' has no attribute {name!r}")


def send(request: Request) -> Response:
    """Send an HTTP request and return its response, or raise Err if it could not be sent.

    Only URLs the function's allowedOutboundHosts lists can be reached, and only addresses the
    platform allows (never its own private networks). Redirects are not followed.
    """
    if not isinstance(request, Request):
        raise TypeError("send() takes a spin_sdk.http.Request")
    if not isinstance(request.method, str) or not isinstance(request.uri, str):
        raise TypeError("the request's method and uri must be str")
    headers = {}
    for name, value in (request.headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("request headers must map str to str")
        headers[name] = value
    body = request.body
    if body is None:
        body = b""
    elif isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body)
    else:
        raise TypeError("the request body must be bytes or None")
    reply, data = _eunha_io.call(
        {"t": "http", "method": request.method, "uri": request.uri, "headers": headers}, body
    )
    if not reply.get("ok"):
        raise Err(f"{reply.get('error', 'failed')}: {reply.get('message', 'the request failed')}")
    return Response(int(reply["status"]), dict(reply.get("headers") or {}), bytes(data))


async def send_async(request: Request) -> Response:
    """send() for async handlers (the SDK's later 3.x name): one request at a time either way."""
    return send(request)
`,
};
