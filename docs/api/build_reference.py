#!/usr/bin/env python3
"""Builds ossl's API reference with Doxygen and fails unless every public entity is documented.

Doxygen runs with WARN_AS_ERROR=FAIL_ON_WARNINGS, so an undocumented class or function
or a broken doc command fails it. Doxygen's check misses some things (enum values,
defaulted special members, macros), so this then reads Doxygen's XML output and checks
every class, struct, public or protected member, enum value and macro. Deleted
functions and friend class declarations are the only exemptions: no caller uses them.

Usage: build_reference.py DOXYGEN DOXYFILE OUTDIR STAMP
  (Meson's `docs` target; OUTDIR gets html/ and xml/, STAMP is written on success)
"""
import glob
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET


def text(node):
    return "".join(node.itertext()).strip() if node is not None else ""


def documented(node):
    return any(text(node.find(tag)) for tag in
               ("briefdescription", "detaileddescription", "inbodydescription"))


def where(node):
    loc = node.find("location")
    if loc is None:
        return "?"
    return f"{loc.get('file', '?').split('/include/')[-1]}:{loc.get('line', '?')}"


def run_doxygen(doxygen, doxyfile, outdir):
    # Start clean: a page left over from a removed class must not survive.
    for sub in ("html", "xml"):
        shutil.rmtree(os.path.join(outdir, sub), ignore_errors=True)
    done = subprocess.run([doxygen, doxyfile], capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        sys.exit(f"build_reference.py: doxygen failed (exit {done.returncode}); "
                 "every warning above is an error")


def check_coverage(xml_dir):
    """Returns the number of entities checked; exits listing the undocumented ones."""
    files = glob.glob(os.path.join(xml_dir, "*.xml"))
    if not files:
        sys.exit(f"build_reference.py: no Doxygen XML in {xml_dir}")
    roots = [ET.parse(path).getroot() for path in files]
    # Classes nested in a private section are implementation, not API.
    hidden = {text(inner) for root in roots for inner in root.iter("innerclass")
              if inner.get("prot") == "private"}
    missing, checked = [], 0
    for root in roots:
        for cd in root.iter("compounddef"):
            name = text(cd.find("compoundname"))
            if name in hidden or any(name.startswith(h + "::") for h in hidden):
                continue
            if cd.get("kind") in ("class", "struct", "union"):
                checked += 1
                if not documented(cd):
                    missing.append(f"{where(cd)}: {cd.get('kind')} {name}")
            for md in cd.iter("memberdef"):
                if md.get("prot") not in ("public", "protected"):
                    continue
                kind = md.get("kind")
                args = text(md.find("argsstring"))
                if args.endswith("=delete") or (kind == "friend" and
                                                text(md.find("type")) in ("class", "struct")):
                    continue
                if kind == "friend" and not text(md.find("argsstring")):
                    continue  # `friend class detail::Owner<...>;`
                member = f"{name}::{text(md.find('name'))}"
                checked += 1
                if not documented(md):
                    missing.append(f"{where(md)}: {kind} {member}{args}")
                for ev in md.iter("enumvalue"):
                    checked += 1
                    if not documented(ev):
                        missing.append(f"{where(md)}: enum value {member}::{text(ev.find('name'))}")
    for line in sorted(set(missing)):
        print(f"undocumented: {line}", file=sys.stderr)
    if missing:
        sys.exit(f"build_reference.py: {len(set(missing))} of {checked} public entities "
                 "have no doc comment")
    return checked


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: build_reference.py DOXYGEN DOXYFILE OUTDIR STAMP")
    doxygen, doxyfile, outdir, stamp = sys.argv[1:]
    run_doxygen(doxygen, doxyfile, outdir)
    checked = check_coverage(os.path.join(outdir, "xml"))
    index = os.path.join(outdir, "html", "index.html")
    if not os.path.isfile(index):
        sys.exit(f"build_reference.py: doxygen wrote no {index}")
    print(f"API reference: {index} (all {checked} public entities documented)")
    with open(stamp, "w", encoding="utf-8") as out:
        out.write(f"{checked}\n")


if __name__ == "__main__":
    main()
