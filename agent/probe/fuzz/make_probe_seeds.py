#!/usr/bin/env python3
"""Writes probe_fuzzer seeds (corpus/probe/<fixture>) from tests/fixtures/devices.

Run from the repository root after adding or changing a fixture:
    agent/probe/fuzz/make_probe_seeds.py
"""
import os
import re

FILES = re.findall(r'^    "([^"]+)",$', open("agent/probe/fuzz/probe_fuzzer.cc").read(), re.M)
FIXTURES = "tests/fixtures/devices"
OUT = "agent/probe/fuzz/corpus/probe"

os.makedirs(OUT, exist_ok=True)
for fixture in sorted(os.listdir(FIXTURES)):
    root = os.path.join(FIXTURES, fixture)
    if not os.path.isdir(root):
        continue
    fields = []
    for name in FILES:
        path = os.path.join(root, name)
        data = b""
        if name.startswith("dev/") and os.path.exists(path):
            data = b"x"
        elif os.path.isfile(path):
            data = open(path, "rb").read()
        fields.append(data)
    open(os.path.join(OUT, fixture), "wb").write(b"\0@@\0".join(fields))
