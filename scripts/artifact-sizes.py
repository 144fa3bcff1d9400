#!/usr/bin/env python3
"""Check and size the `sam build` artifacts.

Every function in the template must have a `bootstrap` that is an aarch64 ELF
(the template deploys arm64 only). Prints each one's size zipped the way SAM
uploads it (deflate) and warns above the 4 MiB goal; a large zip slows cold
starts, so the warning is a prompt to look, not a failure. Then each layer's
size zipped, against Lambda's limits (250 MiB unzipped for a function and
its layers; 50 MiB zipped for a direct upload, which SAM's upload through S3
does not need).

usage: artifact-sizes.py TEMPLATE BUILD_DIR
"""
import io
import os
import re
import sys
import zipfile

GOAL = 4 * 1024 * 1024
EM_AARCH64 = 183


def template_resources(template: str, property_line: str) -> list[str]:
    """Logical ids of resources with a line matching `property_line`; the
    template has CFN tags (!Ref, !Sub) that a plain YAML loader rejects, so
    scan its text."""
    ids, current = [], None
    for line in open(template, encoding="utf-8"):
        m = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if m:
            current = m.group(1)
        elif current and re.match(property_line, line):
            ids.append(current)
    return ids


def template_functions(template: str) -> list[str]:
    return template_resources(template, r"^\s+BuildMethod:\s*rust-cargolambda\s*$")


def template_layers(template: str) -> list[str]:
    return template_resources(template, r"^\s+Type:\s*AWS::Serverless::LayerVersion\s*$")


def layer_content(build_dir: str, layer: str) -> str:
    """Where a layer's content is after `sam build`: its own build directory
    when it has a BuildMethod, otherwise its ContentUri as the built
    template names it (relative to the build directory)."""
    built = os.path.join(build_dir, layer)
    if os.path.isdir(built):
        return built
    current = None
    for line in open(os.path.join(build_dir, "template.yaml"), encoding="utf-8"):
        m = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if m:
            current = m.group(1)
        m = re.match(r"^\s+ContentUri:\s*['\"]?([^'\"\s]+)", line)
        if current == layer and m:
            return os.path.normpath(os.path.join(build_dir, m.group(1)))
    return built


def layer_sizes(directory: str) -> tuple[int, int]:
    """(unzipped, zipped) bytes of a layer's content."""
    buf = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in os.walk(directory):
            for name in sorted(files):
                path = os.path.join(root, name)
                unzipped += os.path.getsize(path)
                z.write(path, os.path.relpath(path, directory))
    return unzipped, buf.tell()


def elf_machine(path: str) -> int | None:
    with open(path, "rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[5] != 1:
        return None  # not a little-endian ELF
    return int.from_bytes(header[18:20], "little")


def zipped_size(path: str) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    return buf.tell()


def mib(n: int) -> str:
    return f"{n / 1024 / 1024:6.2f} MiB"


def main(template: str, build_dir: str) -> int:
    functions = template_functions(template)
    problems, over = [], []
    print(f"{'function':<20} {'bootstrap':>12} {'zipped':>12}")
    for fn in functions:
        path = os.path.join(build_dir, fn, "bootstrap")
        if not os.path.isfile(path):
            problems.append(f"{fn}: no bootstrap at {path}")
            continue
        machine = elf_machine(path)
        if machine != EM_AARCH64:
            problems.append(f"{fn}: bootstrap is not an aarch64 ELF (machine {machine})")
            continue
        size = zipped_size(path)
        flag = "  over 4 MiB goal" if size > GOAL else ""
        if flag:
            over.append(fn)
        print(f"{fn:<20} {mib(os.path.getsize(path)):>12} {mib(size):>12}{flag}")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    for fn in over:
        print(f"warning: {fn} zips to more than 4 MiB", file=sys.stderr)
    if not functions:
        print("error: no rust-cargolambda functions in the template", file=sys.stderr)
        return 1
    if problems:
        return 1
    print(f"{len(functions)} aarch64 bootstrap artifacts")
    for layer in template_layers(template):
        directory = layer_content(build_dir, layer)
        if not os.path.isdir(directory):
            print(f"error: {layer}: no layer content at {directory}", file=sys.stderr)
            return 1
        unzipped, zipped = layer_sizes(directory)
        print(f"layer {layer:<14} {mib(unzipped):>12} {mib(zipped):>12}")
        if unzipped > 250 * 1024 * 1024:
            print(f"error: {layer} is over Lambda's 250 MiB unzipped limit", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    sys.exit(main(sys.argv[1], sys.argv[2]))
