#!/usr/bin/env python3
"""Checks sampled outputs of `adamas run --grammar-file/--json-schema-file`.

Usage: grammar_check.py CASE_FILE OUTPUT...  where CASE_FILE is a .gbnf or
.schema.json file of tests/grammars/. Schemas are checked with the
jsonschema package (Debian's python3-jsonschema), grammars with references
written here independently of the GBNF (json.loads, regular expressions,
a recursive-descent parser). Prints one line per bad output, exits 1 if any.
"""
import json
import re
import sys


def arithmetic(s):
    """arithmetic.gbnf: expr = term ([+-] term){0,2}, term = factor ([*/] factor)?,
    factor = [0-9]{1,4} | ( expr ), parentheses at most two deep."""
    pos = 0

    def factor(d):
        nonlocal pos
        if pos < len(s) and s[pos] == "(" and d < 2:
            pos += 1
            expr(d + 1)
            if pos >= len(s) or s[pos] != ")":
                raise ValueError("missing )")
            pos += 1
            return
        m = re.compile(r"[0-9]{1,4}").match(s, pos)
        if not m:
            raise ValueError("expected a number at %d" % pos)
        pos = m.end()

    def term(d):
        nonlocal pos
        factor(d)
        if pos < len(s) and s[pos] in "*/":
            pos += 1
            factor(d)

    def expr(d):
        nonlocal pos
        term(d)
        for _ in range(2):
            if pos < len(s) and s[pos] in "+-":
                pos += 1
                term(d)

    expr(0)
    if pos != len(s):
        raise ValueError("trailing text at %d" % pos)


FIELD = r'(?:[^,"\n\r]{0,10}|"(?:[^"]|""){0,10}")'
REGEX = {
    "csv.gbnf": re.compile(r"%s(?:,%s){1,5}\n" % (FIELD, FIELD)),
    "list.gbnf": re.compile(r"(?:- [A-Za-z][a-z ]{0,15}\n){1,4}"),
}


def depth(v):
    if isinstance(v, dict):
        return 1 + max([depth(x) for x in v.values()] or [0])
    if isinstance(v, list):
        return 1 + max([depth(x) for x in v] or [0])
    return 0


def check(case, text):
    name = case.rsplit("/", 1)[-1]
    if name.endswith(".schema.json"):
        import jsonschema
        schema = json.load(open(case))
        cls = jsonschema.validators.validator_for(schema)
        cls(schema, format_checker=cls.FORMAT_CHECKER).validate(json.loads(text))
    elif name == "json-bounded.gbnf":
        if depth(json.loads(text)) > 3:
            raise ValueError("nested deeper than the grammar allows")
    elif name == "arithmetic.gbnf":
        arithmetic(text)
    elif name in REGEX:
        if not REGEX[name].fullmatch(text):
            raise ValueError("does not match")
    else:
        raise SystemExit("unknown case " + name)


def main():
    case, outputs = sys.argv[1], sys.argv[2:]
    bad = 0
    for path in outputs:
        text = open(path, encoding="utf-8").read()
        try:
            check(case, text)
        except Exception as e:  # any failure to parse or validate
            bad += 1
            print("%s: %s: %r: %s" % (case, path, text[:200], str(e).splitlines()[0][:200]))
    sys.exit(1 if bad else 0)


main()
