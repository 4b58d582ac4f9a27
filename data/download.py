"""Fetching the published IDX ``.gz`` files over HTTPS.

Each file is streamed to a temporary name in the build's temporary folder,
refused past a size cap, checked against its published MD5, and only then
renamed to its own name. Plain HTTP is accepted only from this machine
(127.0.0.1, ::1, localhost), which is how the tests serve files.
"""
import hashlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

TIMEOUT = 30  # seconds without progress before a download is abandoned
_CHUNK = 1 << 16
_LOCAL = ("127.0.0.1", "::1", "localhost")


class DownloadError(Exception):
    """One file from one mirror could not be had; the message says why."""


def check_base_url(url, setting):
    """``url`` as a base ending in '/', if it is HTTPS or local HTTP;
    ``setting`` names where it came from for the error message."""
    parts = urllib.parse.urlsplit(url)
    local_http = parts.scheme == "http" and parts.hostname in _LOCAL
    if not (parts.scheme == "https" and parts.hostname) and not local_http:
        raise ValueError(f"{setting}: expected an https:// URL, got {url!r}")
    return url if url.endswith("/") else url + "/"


def base_urls(default, env):
    """``$env`` if set (one base URL), else the ``default`` mirrors."""
    given = os.environ.get(env)
    if given:
        return (check_base_url(given, env),)
    return tuple(check_base_url(u, "mirror") for u in default)


def fetch(url, dest, md5, max_bytes):
    """Download ``url`` to ``dest`` if it is at most ``max_bytes`` long and
    its MD5 is ``md5``; otherwise raise ``DownloadError`` and leave no file.
    An ``OSError`` writing ``dest`` (full disk) propagates."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.md5()
    total = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as r, open(part, "wb") as out:
            declared = r.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(f"{url}: the server offers {declared} bytes, more than the "
                                    f"{max_bytes} this file can be")
            while True:
                block = r.read(min(_CHUNK, max_bytes + 1 - total))
                if not block:
                    break
                total += len(block)
                if total > max_bytes:
                    raise DownloadError(f"{url}: more than {max_bytes} bytes; stopped there")
                digest.update(block)
                out.write(block)
            if declared is not None and declared.isdigit() and total != int(declared):
                raise DownloadError(f"{url}: the connection closed after {total} of {declared} bytes")
        if digest.hexdigest() != md5:
            raise DownloadError(f"{url}: MD5 {digest.hexdigest()} does not match the published {md5} "
                                f"({total} bytes received: truncated or not the published file)")
        os.replace(part, dest)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url}: {exc.reason}") from exc
    except http.client.IncompleteRead as exc:
        raise DownloadError(f"{url}: the connection closed after {total + len(exc.partial)} bytes "
                            f"of {total + len(exc.partial) + (exc.expected or 0)}") from exc
    except (http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return dest
