#!/usr/bin/env python3
"""Resolve an ASL file's ${Name} DefinitionSubstitutions for linting.

statelint (and cfn-lint, which skips SAM state machine definitions entirely)
can't read `${ContextFunctionArn}`; each placeholder becomes a syntactically
valid Lambda ARN named after it, so the resolved copy lints like the deployed one.

usage: resolve-asl.py IN.asl.json OUT.asl.json
"""
import json
import re
import sys

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def fake_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:function:handoff-{name}"


def main(src: str, dst: str) -> None:
    with open(src, encoding="utf-8") as f:
        text = f.read()
    names = sorted(set(PLACEHOLDER.findall(text)))
    resolved = PLACEHOLDER.sub(lambda m: fake_arn(m.group(1)), text)
    json.loads(resolved)  # a substitution must not break the JSON
    with open(dst, "w", encoding="utf-8") as f:
        f.write(resolved)
    print(f"resolved {len(names)} substitution(s): {', '.join(names) or 'none'}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(sys.argv[1], sys.argv[2])
