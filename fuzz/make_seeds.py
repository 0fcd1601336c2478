#!/usr/bin/env python3
"""Writes the hand-made seed corpus, fuzz/corpus/<target>/seed-*, from the shared test
vectors (tests/vectors), the bad-input corpus (tests/fixtures/bad) and a few tricky inputs.

Run it after changing the vectors or the targets' input layout (the first byte of
`validators`, `payload_readers` and `jwt` selects a case; see fuzz/src). It rewrites only
`seed-*` files; inputs the fuzzer found (named by their SHA-1) stay. Deterministic.

    python3 fuzz/make_seeds.py
"""

import base64
import glob
import hashlib
import hmac
import json
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
# Per target at most this many seeds drawn from the vectors, plus the hand-written ones.
PER_SOURCE = 6
# libFuzzer's default -max_len is 4096 or the longest seed: longer seeds slow every mutation.
MAX_SEED_BYTES = 4096


def expand(v):
    """The vector macros ($repeat, $concat); $nonFinite stays, the fuzz targets read it."""
    if isinstance(v, dict):
        if len(v) == 1 and "$repeat" in v:
            s, n = v["$repeat"]
            return expand(s) * n
        if len(v) == 1 and "$concat" in v:
            return "".join(expand(p) for p in v["$concat"])
        return {k: expand(x) for k, x in v.items()}
    if isinstance(v, list):
        return [expand(x) for x in v]
    return v


def vectors():
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/vectors/*.json"))):
        with open(path) as f:
            for v in json.load(f)["vectors"]:
                yield v["fn"], expand(v["input"])


def bad():
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/bad/**/*.json"), recursive=True)):
        with open(path) as f:
            d = json.load(f)
        yield d["fn"], d["input"]


def sample(items, n, seed):
    items = list(items)
    random.Random(seed).shuffle(items)
    return items[:n]


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for old in glob.glob(os.path.join(d, "seed-*")):
        os.remove(old)
    seen = set()
    for data in seeds:
        h = hashlib.sha1(data).hexdigest()
        if h in seen or len(data) > MAX_SEED_BYTES:
            continue
        seen.add(h)
        with open(os.path.join(d, f"seed-{h[:12]}"), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seen)} seeds")


# ---- names: one string (a pattern and a room when it holds a newline)
names_fns = {"userRoom", "ticketRoom", "meterRoom", "systemRoom", "parseRoom", "isValidEventName"}
strings = [i for fn, i in vectors() if fn in names_fns and isinstance(i, str)]
strings += [i for fn, i in bad() if fn in {"room", "event_name", "user_id", "room_pattern"}]
names = sample(strings, 24, 1) + [
    "system_presence", "broadcast", "*", "ticket_*", "meter_site1-*", "user_tech-42@site.a:b",
    "ticket_*\nticket_T-1", "meter_site1-*\nmeter_site1-42", "meter_site1-*\nmeter_site2-1",
    "user_u1\nuser_u1", "*\nsystem_ops", "2024-01-15T10:00:00Z", "2024-01-15T11:00:00.123456+01:00",
    "9999-12-31T23:59:59.999Z", "0000-01-01T00:00:00+01:00", "job_done", "user_online",
    "a" * 64, "a" * 65,
]
write("names", [s.encode() for s in names])

# ---- input_json: JSON text
texts = [compact(i) for _, i in sample(list(vectors()), 12, 2)]
texts += [compact(i) for _, i in sample(list(bad()), 8, 3)]
texts += [
    b"null", b"-0", b"-0.0", b"1e308", b"1e-400", b"18446744073709551615", b"-9223372036854775808",
    b"1.7976931348623157e308", b"0.1", b'{"a":1,"a":2}', b'"\\ud83d\\ude00"', b'"\\u0000"',
    b"[" * 127 + b"]" * 127, b"[" * 129 + b"]" * 129, b'{"$nonFinite":"NaN"}', b" [1, 2 ,3 ] ",
]
write("input_json", texts)

# ---- validators: selector byte (validator index; now = the vectors' default) + JSON
validator_index = {
    "validateNotification": 0, "notification": 0,
    "validateTicketUpdate": 1, "ticket_update": 1,
    "validateMeterReading": 2, "meter_reading": 2,
    "validateAnnouncement": 3, "announcement": 3,
    "validateCustomData": 4, "custom_data": 4,
}
by_validator = {}
for fn, i in list(vectors()) + list(bad()):
    if fn in validator_index:
        by_validator.setdefault(validator_index[fn], []).append(i)
seeds = []
for idx, inputs in sorted(by_validator.items()):
    seeds += [bytes([idx]) + compact(i) for i in sample(inputs, PER_SOURCE, 10 + idx)]
seeds += [
    bytes([5]) + compact({"event": "job_done", "data": {"x": [1, 2, 3]}}),
    bytes([5]) + compact({"event": "notification", "data": 1}),
    bytes([5]) + compact({"event": "job_done", "data": {"$nonFinite": "Infinity"}}),
    bytes([2 | (1 << 3)]) + compact({"reading": 1, "timestamp": "1970-01-01T00:05:00Z", "unit": "kWh"}),
    bytes([2 | (2 << 3)]) + compact({"reading": -0.0, "timestamp": "9999-12-31T23:59:59.999Z", "unit": "Wh"}),
]
write("validators", seeds)

# ---- payload_readers: selector byte (reader index, grants and limit for subscribe) + JSON
subscribe = [i for fn, i in bad() if fn == "subscribe"]
since = [i for fn, i in bad() if fn == "since"]
seeds = [bytes([0]) + compact(i) for i in sample(subscribe, 8, 20)]
seeds += [bytes([1 | (1 << 3) | (3 << 5)]) + compact(i) for i in sample(subscribe, 6, 21)]
seeds += [bytes([1 | (2 << 3)]) + compact({"room": "system_presence", "since": {"epoch": "e", "offset": 1}})]
seeds += [bytes([3]) + compact(i) for i in sample(since, 8, 22)]
seeds += [bytes([6]) + compact(i) for fn, i in sample(list(bad()), 1000, 23) if fn == "refresh"][:PER_SOURCE]
seeds += [
    bytes([2]) + compact({"user_u1": {"epoch": "e1", "offset": 3}, "broadcast": {"epoch": "e1", "offset": 0}}),
    bytes([2]) + compact({"user_u1": {"epoch": "", "offset": 3}, "broadcast": 7}),
    bytes([4]) + compact({"stream": "ticket_T-1", "epoch": "e1", "offset": 1, "id": "n-1", "later": True}),
    bytes([4]) + compact({"stream": "system_presence", "epoch": "e1", "offset": 0, "id": 5}),
    bytes([5]) + compact({"userId": "u1", "rooms": ["ticket_*", "meter_site1-*", "*"]}),
    bytes([5]) + compact({"userId": "a b", "rooms": ["tick*", 3]}),
    bytes([6]) + compact({"token": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}),
    bytes([6]) + compact({"token": 5, "room": "ticket_1"}),
    bytes([6]) + compact(["token"]),
]
write("payload_readers", seeds)

# ---- tracker and recover: structured (arbitrary) input; random bytes of a few sizes
rng = random.Random(30)
write("tracker", [bytes(rng.randrange(256) for _ in range(n)) for n in (8, 32, 64, 128, 256, 512)])
write("recover", [bytes(rng.randrange(256) for _ in range(n)) for n in (16, 40, 80, 160, 320)])

# ---- jwt: mode byte + token text, or claims, or header \n claims
SECRET = b"fuzz-secret"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def hs256(header, claims):
    msg = b64(header) + b"." + b64(claims)
    return msg + b"." + b64(hmac.new(SECRET, msg, hashlib.sha256).digest())


header = b'{"alg":"HS256","typ":"JWT"}'
far = 4102444800  # 2100-01-01
claims = [
    {"sub": "u1", "exp": far},
    {"sub": "tech-42", "exp": far, "rooms": ["ticket_*", "meter_site1-*", "system_ops", "*"]},
    {"sub": "u1", "exp": far, "nbf": 0, "iat": 0},
    {"sub": "u1", "exp": far, "nbf": far},
    {"sub": "u1", "exp": 1},
    {"sub": "a b", "exp": far},
    {"sub": "u1", "exp": far, "rooms": ["tick*"]},
    {"sub": "u1", "exp": far, "rooms": None},
    {"sub": "u1", "exp": 1e300},
    {"sub": "u1", "exp": -1},
    {"sub": "u1", "exp": "soon"},
    {"exp": far},
]
seeds = [bytes([1]) + compact(c) for c in claims]
seeds += [
    bytes([1]) + b'{"sub":"u1","exp":4102444800,"sub":"u2"}',
    bytes([2]) + header + b"\n" + compact(claims[1]),
    bytes([2]) + b'{"alg":"none"}\n' + compact(claims[0]),
    bytes([2]) + b'{"alg":"ES256","typ":"JWT"}\n' + compact(claims[0]),
    bytes([2]) + b'{"alg":"RS256"}\n' + compact(claims[0]),
    bytes([2]) + b'{"alg":"HS256","kid":"k1","jwk":{"kty":"oct"}}\n' + compact(claims[0]),
    bytes([0]) + hs256(header, compact(claims[1])),
    bytes([0]) + b"not.a.jwt",
    bytes([0]) + b"eyJhbGciOiJFUzI1NiJ9.e30." + b64(b"\x00" * 64),
    bytes([0]) + b"..",
]
write("jwt", seeds)
