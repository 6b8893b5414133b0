# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Energy spans of Python code from the joule daemon, over its Unix socket; stdlib only.

    import joule_client

    with joule_client.span("training_step") as s:
        train_one_step()
    print(s.result["energy_uj"], s.result["carbon_ug"])

    @joule_client.track("preprocess")
    def preprocess(batch): ...

The daemon knows the caller by the socket's peer credentials (SO_PEERCRED):
a span measures the process that opened it (scope "process"), it and its
descendants (scope "tree"), or every process in its cgroup v2 and below,
whoever started them (scope "cgroup": a container's or a service's work).
Every failure raises JouleError; nothing is ever reported as a silent zero.
"""
import functools
import http.client
import json
import os
import socket

__all__ = ["JouleError", "Client", "Span", "span", "track", "DEFAULT_SOCKET"]

DEFAULT_SOCKET = "/run/joule/joule.sock"


class JouleError(RuntimeError):
    """The daemon could not be reached, refused the request, or answered an error (status, message)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    """http.client over a connected AF_UNIX socket."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except FileNotFoundError:
            s.close()
            raise JouleError("no joule daemon socket at %s: is `joule daemon` running "
                             "(systemctl start joule)?" % self._path) from None
        except PermissionError:
            s.close()
            raise JouleError("permission denied on %s: add this user to the socket's group "
                             "(usually `joule`: sudo usermod -aG joule $USER, then log in again)" % self._path) from None
        except ConnectionRefusedError:
            s.close()
            raise JouleError("the joule daemon is not accepting connections on %s (stopped?)" % self._path) from None
        except OSError as e:
            s.close()
            raise JouleError("failed to connect to %s: %s" % (self._path, e.strerror or e)) from None
        self.sock = s


class Client:
    """One daemon socket. The path comes from the argument, $JOULE_SOCKET, or /run/joule/joule.sock."""

    def __init__(self, socket_path=None, timeout=10.0):
        self.socket_path = socket_path or os.environ.get("JOULE_SOCKET") or DEFAULT_SOCKET
        self.timeout = timeout

    def request(self, method, path, body=None):
        c = _UnixConnection(self.socket_path, self.timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            try:
                c.request(method, path, body=data, headers=headers)
                r = c.getresponse()
                raw = r.read()
            except JouleError:
                raise
            except (OSError, http.client.HTTPException) as e:
                raise JouleError("failed to talk to the joule daemon on %s: %s" % (self.socket_path, e)) from None
        finally:
            c.close()
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            raise JouleError("the joule daemon answered %d with a body that is not JSON" % r.status, r.status) from None
        if r.status >= 400:
            msg = doc.get("error", {}).get("message", "") if isinstance(doc, dict) else ""
            raise JouleError("joule daemon: %d %s" % (r.status, msg or r.reason), r.status)
        return doc

    def open_span(self, name, scope="process", pid=None):
        """Open a span; returns its JSON (id, name, start, ...). pid: only root may name another process."""
        body = {"name": name, "scope": scope}
        if pid is not None:
            body["pid"] = pid
        return self.request("POST", "/api/v1/spans", body)

    def close_span(self, span_id):
        """Close a span; returns its figures: cpu_ns, energy_uj, cpu_energy_uj, memory_energy_uj, carbon_ug, ..."""
        return self.request("DELETE", "/api/v1/spans/%d" % int(span_id))

    def spans(self):
        """This user's open spans."""
        return self.request("GET", "/api/v1/spans")["spans"]


class Span:
    """A context manager: opens on enter, closes on exit; `result` holds the closed span's figures."""

    def __init__(self, name, scope="process", client=None, socket_path=None):
        self.name = name
        self.scope = scope
        self.client = client or Client(socket_path)
        self.id = None
        self.result = None

    def __enter__(self):
        self.id = self.client.open_span(self.name, self.scope)["id"]
        return self

    def __exit__(self, *exc):
        span_id, self.id = self.id, None
        if span_id is not None:
            self.result = self.client.close_span(span_id)
        return False

    @property
    def energy_j(self):
        return self.result["energy_uj"] / 1e6 if self.result else None

    @property
    def carbon_g(self):
        return self.result["carbon_ug"] / 1e6 if self.result else None


def span(name, scope="process", socket_path=None):
    """`with joule_client.span("step") as s: ...`, then s.result."""
    return Span(name, scope, socket_path=socket_path)


def track(name=None, scope="process", socket_path=None, on_result=None):
    """Decorator: each call of the function is one span (named after the function unless given).

    on_result(result_dict) is called after each call; the last result is also
    kept as wrapper.last_result."""

    def deco(fn):
        span_name = name or fn.__name__

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            s = Span(span_name, scope, socket_path=socket_path)
            with s:
                value = fn(*args, **kwargs)
            wrapper.last_result = s.result
            if on_result:
                on_result(s.result)
            return value

        wrapper.last_result = None
        return wrapper

    if callable(name) and not isinstance(name, str):
        fn, name = name, None
        return deco(fn)
    return deco
