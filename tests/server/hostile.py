"""Hostile input against `adamas serve` (run by tests/e2e/serve_hostile.sh
with a server started with --timeout 2 --max-body 65536 -np 2 --max-queue 4).

Every case is bounded (loopback only, fixed counts, socket timeouts); after
each the server must answer a valid request. Usage: hostile.py HOST PORT
"""
import json
import socket
import sys
import threading
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])


def conn(timeout=10.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_all(s):
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    except ConnectionResetError:
        pass
    return out


def request(method, path, body=b"", headers=None, raw_body=None):
    """One request on a fresh connection (Connection: close); returns (status, headers, body)."""
    s = conn()
    h = {"Host": "x", "Connection": "close", "Content-Type": "application/json"}
    if body or raw_body is None:
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    s.sendall(head.encode() + (raw_body if raw_body is not None else body))
    data = read_all(s)
    s.close()
    if not data:
        return 0, "", b""
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, head.decode("latin-1"), rest


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def alive(what):
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 4}).encode()
    st, _, rest = request("POST", "/v1/completions", body)
    check(st == 200 and b"text_completion" in rest, f"no valid answer after {what}: {st} {rest[:200]!r}")
    print("ok  ", what)


def expect_400(body, what, param=None):
    st, _, rest = request("POST", "/v1/chat/completions", body)
    check(st == 400, f"{what}: status {st}, body {rest[:200]!r}")
    err = json.loads(rest)["error"]
    check(err["type"] == "invalid_request_error" and err["message"], f"{what}: error body {err}")
    if param:
        check(err["param"] == param, f"{what}: param {err['param']}")


msg = [{"role": "user", "content": "Hi"}]

# Truncated bodies: the JSON cut short, and fewer bytes than Content-Length.
full = json.dumps({"messages": msg, "max_tokens": 3}).encode()
for cut in (1, 10, len(full) // 2, len(full) - 1):
    expect_400(full[:cut], f"JSON truncated at byte {cut}")
s = conn(timeout=5)
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + full[:40])
s.close()
alive("truncated bodies")

# Oversized bodies: announced (refused before reading) and chunked (counted while reading).
st, _, _ = request("POST", "/v1/chat/completions", b"", {"Content-Length": str(10**9)}, raw_body=b"")
check(st == 413, f"a 1 GB Content-Length: status {st}")
chunk = b"x" * 16384
chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
st, _, _ = request("POST", "/v1/chat/completions", b"", {"Transfer-Encoding": "chunked"}, raw_body=chunked)
check(st == 413, f"a 128 KiB chunked body: status {st}")
alive("oversized bodies")

# Deep nesting, wrong types, invalid UTF-8, huge max_tokens, other 400s.
expect_400(b"[" * 60000, "60000 nested arrays")
expect_400(b'{"messages":' + b"[" * 5000 + b"]" * 5000 + b"}", "5000 nested arrays in a field")
expect_400(b'{"messages":[{"role":"user","content":{"a":' * 200 + b"1" + b"}}]}" * 200, "nested objects")
expect_400(json.dumps({"messages": "hi"}).encode(), "messages as a string", "messages")
expect_400(json.dumps({"messages": msg, "max_tokens": "5"}).encode(), "max_tokens as a string", "max_tokens")
expect_400(json.dumps({"messages": msg, "temperature": [1]}).encode(), "temperature as an array", "temperature")
expect_400(json.dumps({"messages": msg, "stop": [1, 2]}).encode(), "stop as numbers", "stop")
expect_400(json.dumps({"messages": [{"role": 5, "content": "x"}]}).encode(), "role as a number", "messages")
expect_400(json.dumps({"messages": msg, "stream": "yes"}).encode(), "stream as a string", "stream")
expect_400(b'{"messages":[{"role":"user","content":"\xff\xfe"}]}', "invalid UTF-8")
expect_400(b'{"messages":[{"role":"user","content":"\xed\xa0\x80"}]}', "a UTF-8 surrogate")
expect_400(b'{"messages":[{"role":"user","content":"a\\u0000b"}]}', "an escaped NUL")
expect_400(json.dumps({"messages": msg, "max_tokens": 10**12}).encode(), "max_tokens 10^12", "max_tokens")
expect_400(json.dumps({"messages": msg, "max_tokens": -5}).encode(), "negative max_tokens", "max_tokens")
expect_400(b'{"messages":[],"messages":[]}', "a duplicate key")
expect_400(b"", "an empty body")
expect_400(b"null", "null")
expect_400(json.dumps({"messages": msg, "seed": 1e300}).encode(), "seed 1e300", "seed")
# max_tokens at INT32_MAX is valid: the slot's context ends the answer.
st, _, rest = request("POST", "/v1/completions", json.dumps(
    {"prompt": "Once", "max_tokens": 2**31 - 1, "ignore_eos": True}).encode())
check(st == 200 and json.loads(rest)["choices"][0]["finish_reason"] == "length", f"max_tokens 2^31-1: {st} {rest[:200]!r}")
alive("malformed and ill-typed requests")

# Hostile grammars and schemas: compiled before anything is queued, within
# the converter's and the GBNF compiler's limits, so each is a quick 400 or
# a bounded answer, never a hung connection.
def timed(body, what, want):
    t0 = time.time()
    st, _, rest = request("POST", "/v1/chat/completions", json.dumps(body).encode())
    check(st in want, f"{what}: status {st}, body {rest[:300]!r}")
    check(time.time() - t0 < 10, f"{what}: {time.time() - t0:.1f} s")
    return st, rest


deep = {"type": "integer"}
for _ in range(40):
    deep = {"type": "object", "properties": {"a": deep}, "required": ["a"]}
timed({"messages": msg, "response_format": {"type": "json_schema", "json_schema": {"name": "d", "schema": deep}}},
      "a schema nested 40 deep", {400})
deep = {"type": "integer"}
for _ in range(27):  # just under the body's nesting limit
    deep = {"type": "array", "items": deep, "minItems": 10000, "maxItems": 10000}
timed({"messages": msg, "max_tokens": 8, "json_schema": deep}, "arrays of 10000 nested 27 deep", {200})
timed({"messages": msg, "max_tokens": 8, "json_schema": {"$ref": "#"}}, "a schema that is its own $ref", {400})
timed({"messages": msg, "max_tokens": 8, "json_schema": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
      "a left-recursive schema", {400})
timed({"messages": msg, "max_tokens": 8, "json_schema": {"enum": ["%05d" % i for i in range(5000)]}},
      "an enum of 5000 strings", {200})
timed({"messages": msg, "max_tokens": 8, "grammar": "root ::= " + "(" * 200 + '"a"' + ")" * 200},
      "parentheses 200 deep", {400})
timed({"messages": msg, "max_tokens": 8, "grammar": 'root ::= (("a"{0,100000}){0,100000}){0,100000}'},
      "nested repetitions of 100000", {200, 400})
timed({"messages": msg, "max_tokens": 8, "grammar": 'root ::= x{100000}\nx ::= y{100000}\ny ::= "a"{100000}'},
      "repetitions of 100000 through rules", {200, 400})
timed({"messages": msg, "max_tokens": 30, "grammar": 'root ::= (x | y)*\nx ::= [a-z ]+\ny ::= [a-z ]* [a-z ]+'},
      "an ambiguous grammar", {200})
alive("hostile grammars and schemas")

# Headers larger than the connection's memory: refused (431) or closed.
st, _, _ = request("GET", "/health", b"", {"X-Big": "a" * 200000})
check(st in (0, 413, 431), f"200 KB of headers: status {st}")
s = conn(timeout=5)
s.sendall(b"GET /health HTTP/1.1\r\n" + b"X-A: b\r\n" * 20000 + b"\r\n")
read_all(s)
s.close()
alive("oversized headers")

# Slowloris: connections that never finish their headers. The server
# answers others meanwhile and closes them after --timeout (2 s).
slow = []
for _ in range(40):
    s = conn(timeout=10)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
    slow.append(s)
for s in slow:
    s.sendall(b"X-Slow: 1\r\n")
alive("40 connections stuck in their headers")
t0 = time.time()
closed = 0
for s in slow:
    s.settimeout(max(0.1, 10 - (time.time() - t0)))
    try:
        closed += s.recv(1) == b""
    except (socket.timeout, ConnectionResetError):
        closed += isinstance(sys.exc_info()[1], ConnectionResetError)
    s.close()
check(closed == len(slow), f"only {closed} of {len(slow)} stalled connections closed by the server's timeout")
print("ok   stalled connections closed after the timeout (%.1f s)" % (time.time() - t0))

# 200 connections at once, each a valid request: every one gets an answer,
# 200 or 503 (2 slots, a queue of 4), never silence or a crash.
results = []
lock = threading.Lock()


def one(i):
    try:
        st, head, _ = request("POST", "/v1/completions", json.dumps(
            {"prompt": "Once upon a time", "max_tokens": 8, "seed": i}).encode())
    except OSError as e:
        st, head = -1, str(e)
    with lock:
        results.append((st, head))


threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
codes = sorted({st for st, _ in results})
check(len(results) == 200 and set(codes) <= {200, 503}, f"200 concurrent requests: statuses {codes}, {len(results)} answers")
check(200 in codes, "no request of 200 was served")
check(all("Retry-After: 1" in h for st, h in results if st == 503), "a 503 without Retry-After")
print("ok   200 concurrent requests: %d served, %d told to retry" % (
    sum(st == 200 for st, _ in results), sum(st == 503 for st, _ in results)))
alive("200 connections at once")
print("all passed")
