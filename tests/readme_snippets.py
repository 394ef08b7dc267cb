#!/usr/bin/env python3
"""Extracts every ```cpp block of a Markdown file into one C++ translation unit.

#include lines are hoisted to the top; the rest of block N goes into namespace
readme_snippet_N, so blocks may reuse names. The build compiles the result, which
proves that the README's code compiles against the current headers.
"""
import re
import sys

src, out = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
blocks = re.findall(r"^```cpp\n(.*?)^```", text, flags=re.S | re.M)
if not blocks:
    sys.exit(f"{src}: no ```cpp blocks found")
includes, bodies = [], []
for i, block in enumerate(blocks):
    lines = block.splitlines()
    includes += [l for l in lines if l.startswith("#include")]
    body = "\n".join(l for l in lines if not l.startswith("#include"))
    bodies.append(f"namespace readme_snippet_{i} {{\n{body}\n}}  // namespace readme_snippet_{i}\n")
with open(out, "w", encoding="utf-8") as f:
    f.write(f"// Generated from {src} by readme_snippets.py: do not edit.\n")
    for inc in dict.fromkeys(includes):
        f.write(inc + "\n")
    f.write("\n" + "\n".join(bodies))
