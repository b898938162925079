# SPDX-License-Identifier: BSD-2-Clause
"""A strict parser of the Prometheus text exposition format (0.0.4), for the tests.

Stricter than Prometheus itself on purpose: every family has exactly one HELP and
one TYPE, both before its first sample; a family's samples are contiguous; names
and label names match the format's grammar; label values use only the three
escapes the format defines; a series appears once; counters end in _total and
are never negative; a histogram's buckets are cumulative, end at le="+Inf" and
agree with _count, and _sum is there.  parse() raises ValueError naming the line.
"""
import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _value(s, where):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s)
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise ValueError(f"{where}: bad value {s!r}")
    return float(s)


def _labels(s, i, where):
    """Parse {a="x",b="y"} starting at s[i] == '{'; return (dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if s[i:i + 1] == "}":
            return labels, i + 1
        m = LABEL_NAME.match(s, i)
        if not m:
            raise ValueError(f"{where}: bad label name at column {i + 1}")
        key = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ValueError(f"{where}: expected =\" after label {key}")
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise ValueError(f"{where}: unterminated label value")
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ValueError(f"{where}: bad escape \\{nxt}")
                val.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ValueError(f"{where}: newline in label value")
            else:
                val.append(c)
                i += 1
        if key in labels:
            raise ValueError(f"{where}: label {key} twice")
        labels[key] = "".join(val)
        if s[i:i + 1] == ",":
            i += 1
        elif s[i:i + 1] != "}":
            raise ValueError(f"{where}: expected , or }} after label {key}")


def _family_of(sample, fam, typ):
    if typ == "histogram":
        return sample in (fam + "_bucket", fam + "_sum", fam + "_count")
    if typ == "summary":
        return sample in (fam, fam + "_sum", fam + "_count")
    return sample == fam


def parse(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}"""
    if not text.endswith("\n"):
        raise ValueError("exposition does not end with a newline")
    fams, current, series, done = {}, None, set(), set()
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {n}: {line!r}"
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            if not NAME.fullmatch(name) or not help_:
                raise ValueError(f"{where}: bad HELP")
            if name in fams:
                raise ValueError(f"{where}: second HELP for {name}")
            if current:
                done.add(current)
            fams[name] = {"help": help_, "type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            parts = line[7:].split(" ")
            if len(parts) != 2 or parts[1] not in TYPES:
                raise ValueError(f"{where}: bad TYPE")
            if parts[0] != current or fams[current]["type"] or fams[current]["samples"]:
                raise ValueError(f"{where}: TYPE not right after its HELP")
            fams[current]["type"] = parts[1]
        elif line.startswith("#") or not line.strip():
            raise ValueError(f"{where}: stray comment or blank line")
        else:
            m = NAME.match(line)
            if not m:
                raise ValueError(f"{where}: bad metric name")
            name, i, labels = m.group(0), m.end(), {}
            if line[i:i + 1] == "{":
                labels, i = _labels(line, i, where)
            if line[i:i + 1] != " ":
                raise ValueError(f"{where}: expected one space before the value")
            value = _value(line[i + 1:], where)
            if current is None or not fams[current]["type"]:
                raise ValueError(f"{where}: sample before HELP and TYPE")
            typ = fams[current]["type"]
            if not _family_of(name, current, typ):
                raise ValueError(f"{where}: sample of another family than {current} "
                                 "(families must be contiguous)")
            key = (name, tuple(sorted(labels.items())))
            if key in series:
                raise ValueError(f"{where}: series twice")
            series.add(key)
            if typ == "counter":
                if not name.endswith("_total"):
                    raise ValueError(f"{where}: counter name without _total")
                if value < 0 or math.isnan(value):
                    raise ValueError(f"{where}: counter below 0")
            fams[current]["samples"].append((name, labels, value))
    for name, f in fams.items():
        if f["type"] is None:
            raise ValueError(f"{name}: HELP without TYPE")
        if f["type"] == "histogram":
            _check_histogram(name, f["samples"])
    return fams


def _check_histogram(fam, samples):
    groups = {}
    for name, labels, value in samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if name == fam + "_bucket":
            if "le" not in labels:
                raise ValueError(f"{fam}: bucket without le")
            g["buckets"].append((_value(labels["le"], fam), value))
        elif "le" in labels:
            raise ValueError(f"{fam}: le on {name}")
        elif name == fam + "_sum":
            g["sum"] = value
        else:
            g["count"] = value
    for rest, g in groups.items():
        b = g["buckets"]
        if not b or b[-1][0] != math.inf:
            raise ValueError(f"{fam}{rest}: no +Inf bucket last")
        if [x for x, _ in b] != sorted(x for x, _ in b) or len({x for x, _ in b}) != len(b):
            raise ValueError(f"{fam}{rest}: le not strictly increasing")
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            raise ValueError(f"{fam}{rest}: buckets not cumulative")
        if g["count"] is None or g["sum"] is None:
            raise ValueError(f"{fam}{rest}: _count or _sum missing")
        if g["count"] != b[-1][1]:
            raise ValueError(f"{fam}{rest}: _count != +Inf bucket")


def value(fams, name, **labels):
    """The value of the one sample NAME whose labels include LABELS."""
    hits = [v for f in fams.values() for n, lab, v in f["samples"]
            if n == name and all(lab.get(k) == str(x) for k, x in labels.items())]
    if len(hits) != 1:
        raise AssertionError(f"{name}{labels}: {len(hits)} samples")
    return hits[0]
