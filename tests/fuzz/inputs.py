"""Generators of malformed and surprising inputs for every entry point of arspec.

Each generator takes a :class:`random.Random` and the :class:`Seeds` (examples, compiled
objects, a trace) and returns a :class:`~tests.fuzz.harness.Case`. The mutations are
structure-aware where a structure exists: bundles are mutated as YAML trees (wrong types,
huge and negative numbers, unicode, deep nesting, deleted and unknown keys) and as text
(alias bombs, duplicate keys, binary junk, truncation); bytecode as instruction fields;
assembly as token streams of both syntaxes; ELF objects as header fields and bytes; traces as
JSON trees; command lines as flags with odd values.
"""

from __future__ import annotations

import json
import pickle
import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.fuzz.harness import Case

ROOT = Path(__file__).resolve().parents[2]
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

#: Numbers that break careless arithmetic.
NASTY_INTS = (0, -1, 1, 2, 7, 8, 63, 64, 255, 4096, 65535, 65536, 2**24, 2**31 - 1, 2**31,
              2**32 - 1, 2**32, 2**36, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**30,
              -(2**63), -(2**64))
NASTY_FLOATS = (0.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan"))
NASTY_STRINGS = ("", " ", "é", "\u202e", "名前", "a" * 300, "0x", "-", "${x}", "%s", "..",
                 "../../etc/passwd", "r11", "map_idx(", "\\", "'", '"', "#", ":", "- a",
                 "\ufeff", "\x85", "\u2028", "on", "~", "null", "1_000", "0o9", ".nan")


@dataclass(frozen=True)
class Seeds:
    """What the generators mutate."""

    bundles: tuple[tuple[str, str], ...]
    assembly: tuple[str, ...]
    objects: tuple[bytes, ...]
    trace: str | None


def load_seeds(objects: tuple[bytes, ...] = (), trace: str | None = None) -> Seeds:
    """Return the bundle examples and test bundles, assembly sources, and the given extras."""
    bundles = []
    for path in sorted([*(ROOT / "examples").glob("*.yaml"),
                        *(ROOT / "examples" / "explore").glob("*.yaml"),
                        *(ROOT / "tests" / "bundles" / "valid").glob("*.yaml")]):
        text = path.read_text()
        if "elf:" not in text:
            bundles.append((path.name, text))
    sources = [p.read_text() for p in sorted((ROOT / "examples" / "programs").glob("*.s"))]
    for data in sorted((ROOT / "tests" / "conformance").rglob("*.data"))[:400]:
        text = data.read_text()
        if "-- asm" in text:
            sources.append(text.split("-- asm", 1)[1].split("\n--", 1)[0])
    return Seeds(tuple(bundles), tuple(sources), objects, trace)


# --------------------------------------------------------------------------- YAML trees


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _nasty_value(rng: random.Random) -> Any:
    choice = rng.randrange(9)
    if choice == 0:
        return rng.choice(NASTY_INTS)
    if choice == 1:
        return rng.choice(NASTY_FLOATS)
    if choice == 2:
        return rng.choice(NASTY_STRINGS)
    if choice == 3:
        return rng.choice([[], {}, [1, 2], {"a": 1}, None, True, False])
    if choice == 4:
        depth: Any = 1
        for _ in range(rng.choice([5, 31, 33, 60])):
            depth = [depth] if rng.random() < 0.5 else {"k": depth}
        return depth
    if choice == 5:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0xA0, 0x3000)]))
                       for _ in range(rng.randrange(1, 40)))
    if choice == 6:
        return rng.randrange(-(2**70), 2**70)
    if choice == 7:
        return "-" * rng.choice([50, 99, 101, 500, 1000]) + "x.y"
    return rng.choice(["array", "hash", "ringbuf", "prog_array", "queue", "linux", "solana",
                       "startup", "every", "account", "termination", "no_lost_timer"])


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = root
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return root


def _delete(root: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return root
    parent = root
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return root


_TREES: dict[str, str] = {}


def _gentle(rng: random.Random, data: Any) -> None:
    """Change one integer to a small or power-of-two value: often still a valid bundle."""
    numbers = [p for p in _paths(data) if p and isinstance(_get(data, p), int)
               and not isinstance(_get(data, p), bool)]
    if numbers:
        _set(data, rng.choice(numbers), rng.choice([0, 1, 2, 3, 4, 5, 8, 16, 24, 64, 4096,
                                                    65536, 2**24, 2**32, rng.randrange(100)]))


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        root = root[key]
    return root


def mutate_tree(rng: random.Random, text: str) -> str:
    """Return the bundle text after a few structure-aware changes to its YAML tree."""
    if text not in _TREES:  # parsed once; each mutation works on a fresh copy
        _TREES[text] = pickle.dumps(yaml.load(text, Loader=_LOADER))
    data = pickle.loads(_TREES[text])
    for _ in range(rng.randrange(0, 4) if rng.random() < 0.5 else 0):
        paths = _paths(data)
        path = rng.choice(paths)
        action = rng.randrange(5)
        try:
            if action in (0, 1):
                data = _set(data, path, _nasty_value(rng))
            elif action == 2 and path:
                data = _delete(data, path)
            elif action == 3:
                target = data
                for key in path:
                    target = target[key]
                if isinstance(target, dict):
                    target[rng.choice(["zzz", "type", "on", "slots", "key_size", "fields",
                                       "timer", "wq", "init", "max_entries", "x" * 70])] = \
                        _nasty_value(rng)
                elif isinstance(target, list):
                    target.append(_nasty_value(rng))
            else:
                data = _set(data, path, _nasty_value(rng))
        except (KeyError, IndexError, TypeError):
            continue
    if rng.random() < 0.5:
        _gentle(rng, data)
    try:
        return yaml.dump(data, Dumper=_DUMPER, sort_keys=False,
                         allow_unicode=rng.random() < 0.5, width=rng.choice([80, 10**6]))
    except (yaml.YAMLError, RecursionError, ValueError):
        return text


def mutate_text(rng: random.Random, text: str) -> str:
    """Return the bundle text after a textual change YAML trees cannot express."""
    lines = text.splitlines(keepends=True)
    action = rng.randrange(9)
    if action == 0 and lines:  # duplicate a line (duplicate keys)
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif action == 1:  # alias bomb
        bomb = "a: &a [x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(9))
        return bomb + text
    elif action == 2:  # binary junk
        at = rng.randrange(len(text) + 1)
        junk = "".join(chr(rng.randrange(0, 256)) for _ in range(rng.randrange(1, 12)))
        return text[:at] + junk + text[at:]
    elif action == 3:  # truncation
        return text[:rng.randrange(len(text) + 1)]
    elif action == 4 and lines:  # indentation damage
        i = rng.randrange(len(lines))
        lines[i] = rng.choice(["\t", " ", "   ", ""]) + lines[i].lstrip(" ")
    elif action == 5:  # tags, merge keys, documents
        extra = rng.choice(["x: !!binary aGVsbG8=\n", "<<: {a: 1}\n", "---\na: 1\n",
                            "x: !custom 1\n", "? [a]\n: 1\n", "x: {? a}\n", "%YAML 1.1\n---\n",
                            "null: 1\n", "1.5: x\n", "true: 1\n"])
        return extra + text if rng.random() < 0.5 else text + extra
    elif action == 6 and lines:  # change a number in a line
        i = rng.randrange(len(lines))
        digits = [j for j, c in enumerate(lines[i]) if c.isdigit()]
        if digits:
            j = rng.choice(digits)
            number = str(rng.choice(NASTY_INTS)) if rng.random() < 0.8 else \
                "9" * rng.choice([100, 101, 4300, 5000])
            lines[i] = lines[i][:j] + number + lines[i][j + 1:]
    elif action == 7 and lines:  # assembly inside the bundle: damage a code line
        code = [i for i, line in enumerate(lines) if line.startswith("      ") and ":" not in
                line[:6]]
        if code:
            i = rng.choice(code)
            lines[i] = "      " + mutate_assembly_line(rng, lines[i].strip()) + "\n"
    else:  # flip bytes
        raw = bytearray(text.encode())
        for _ in range(rng.randrange(1, 4)):
            if raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        return raw.decode("utf-8", "replace")
    return "".join(lines)


# --------------------------------------------------------------------------- programs

_OPCODES = (0x07, 0x04, 0xB7, 0xB4, 0xBF, 0xBC, 0x0F, 0x1F, 0x2F, 0x37, 0x3F, 0x47, 0x57,
            0x67, 0x77, 0x87, 0x97, 0x9F, 0xA7, 0xC7, 0xD4, 0xDC, 0x05, 0x15, 0x1D, 0x25,
            0x2D, 0x35, 0x55, 0x65, 0x06, 0x16, 0x85, 0x95, 0x18, 0x61, 0x69, 0x71, 0x79,
            0x62, 0x6A, 0x72, 0x7A, 0x63, 0x6B, 0x73, 0x7B, 0xC3, 0xDB, 0x8D, 0x36, 0x3C,
            0x94, 0x9C, 0x34)


def random_bytecode(rng: random.Random) -> bytes:
    """Return instructions with plausible opcodes and random fields, sometimes damaged."""
    out = bytearray()
    for _ in range(rng.randrange(1, 24)):
        opcode = rng.choice(_OPCODES) if rng.random() < 0.9 else rng.randrange(256)
        regs = rng.randrange(256) if rng.random() < 0.2 else \
            rng.randrange(11) | (rng.randrange(11) << 4)
        offset = rng.choice([0, 1, 2, -1, -2, 32767, -32768, rng.randrange(-40, 40)])
        imm = rng.choice([0, 1, -1, 8, 2**31 - 1, -(2**31), rng.randrange(-(2**31), 2**31)])
        out += struct.pack("<BBhi", opcode, regs, offset, imm)
    out += bytes.fromhex("b700000000000000 9500000000000000".replace(" ", ""))
    if rng.random() < 0.1:
        del out[rng.randrange(len(out)):]
    return bytes(out)


_ASM_TOKENS = ("r0", "r1", "r10", "r11", "%r0", "%r1", "w0", "1", "-1", "0x7fffffff",
               "18446744073709551616", "+", "-", "*", ",", "(", ")", "[", "]", "=", "+=",
               "goto", "if", "call", "exit", "lddw", "mov", "add32", "ldxw", "stxdw", "ja",
               "jeq", "u64", "u8", "*(u32 *)(r10 - 4)", "label:", "label", "+3", "be16",
               "le64", "map_idx(hb)", "code_addr(x)", "bpf_map_lookup_elem", "bpf_map_lookupp",
               "\u00e9", "0b1", "0o7", ";", "#", "//", "\x00", "9" * 5000, "r" + "1" * 50)


def mutate_assembly_line(rng: random.Random, line: str) -> str:
    """Return ``line`` with tokens replaced, dropped or added."""
    tokens = line.split()
    for _ in range(rng.randrange(1, 3)):
        action = rng.randrange(3)
        if action == 0 and tokens:
            tokens[rng.randrange(len(tokens))] = rng.choice(_ASM_TOKENS)
        elif action == 1 and tokens:
            del tokens[rng.randrange(len(tokens))]
        else:
            tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(_ASM_TOKENS))
    return " ".join(tokens)


def random_assembly(rng: random.Random, seeds: Seeds) -> str:
    """Return a source of either syntax with some lines damaged."""
    lines = rng.choice(seeds.assembly).splitlines()
    for _ in range(rng.randrange(0, 4)):
        if lines:
            i = rng.randrange(len(lines))
            lines[i] = mutate_assembly_line(rng, lines[i])
    if rng.random() < 0.05:
        lines = lines * rng.choice([100, 2000])
    return "\n".join(lines) + "\n"


def mutate_object(rng: random.Random, data: bytes) -> bytes:
    """Return a clang object with header fields or bytes changed."""
    raw = bytearray(data)
    shoff = struct.unpack_from("<Q", raw, 0x28)[0]
    shnum = struct.unpack_from("<H", raw, 0x3C)[0]
    # Header edits come first, while the file still has its header; truncation may follow.
    for _ in range(rng.randrange(1, 4)):
        action = rng.random()
        if action < 0.4 and shnum:
            index = rng.randrange(shnum)
            at, fmt = rng.choice([(4, "<I"), (8, "<Q"), (24, "<Q"), (32, "<Q"), (40, "<I"),
                                  (44, "<I"), (56, "<Q")])
            value = rng.choice(NASTY_INTS) % (1 << (8 * struct.calcsize(fmt)))
            if shoff + index * 64 + at + struct.calcsize(fmt) <= len(raw):
                struct.pack_into(fmt, raw, shoff + index * 64 + at, value)
        elif action < 0.5:
            at, fmt = rng.choice([(0x28, "<Q"), (0x3A, "<H"), (0x3C, "<H"), (0x3E, "<H"),
                                  (0x12, "<H"), (0x04, "<B")])
            if at + struct.calcsize(fmt) <= len(raw):
                struct.pack_into(fmt, raw, at, rng.choice(NASTY_INTS) %
                                 (1 << (8 * struct.calcsize(fmt))))
        elif action < 0.85 and raw:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        else:
            del raw[rng.randrange(len(raw) + 1):]
    return bytes(raw)


# --------------------------------------------------------------------------- traces


def mutate_trace(rng: random.Random, text: str) -> str:
    """Return a trace file with its JSON tree or text changed."""
    if rng.random() < 0.2:
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice(["", "}", "[", "\x00", "é", "1e999"]) + text[at + 1:]
    data = json.loads(text)
    for _ in range(rng.randrange(1, 3)):
        paths = _paths(data)
        path = rng.choice(paths)
        value = _nasty_value(rng)
        if isinstance(value, float) and value != value:
            value = None
        try:
            data = _delete(data, path) if rng.random() < 0.2 and path else \
                _set(data, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    return json.dumps(data)


# --------------------------------------------------------------------------- cases


def bundle_case(rng: random.Random, seeds: Seeds) -> Case:
    """A mutated bundle, loaded by ``verify`` (cheap: properties narrowed) or ``run``."""
    _name, text = rng.choice(seeds.bundles)
    text = mutate_tree(rng, text) if rng.random() < 0.6 else mutate_text(rng, text)
    command = rng.choices(["load", "run", "verify", "explore"], [90, 5, 3, 2])[0]
    file = "b.yaml"
    if command == "load":
        return Case("bundle-load", ("{dir}/" + file,),
                    ((file, text.encode("utf-8", "surrogatepass")),), tool="load")
    elif command == "run":
        argv = ("run", "{dir}/" + file, "--slots", str(rng.choice([1, 2, 3])))
    elif command == "verify":
        argv = ("verify", "{dir}/" + file, "--no-explore", "--timeout", "2", "--rlimit",
                "200000", "--format", rng.choice(["text", "json", "sarif"]))
    else:
        argv = ("explore", "{dir}/" + file, "--slots", "1", "--max-states", "30",
                "--max-depth", "3", "--no-timing")
    return Case(f"bundle-{command}", argv, ((file, text.encode("utf-8", "surrogatepass")),))


def bytecode_case(rng: random.Random, seeds: Seeds) -> Case:
    """Random bytecode through ``exec``, ``disasm`` or the conformance plugin."""
    code = random_bytecode(rng)
    where = rng.choice(["exec", "disasm", "plugin", "hex"])
    if where == "plugin":
        hex_text = " ".join(f"{b:02x}" for b in code)
        if rng.random() < 0.1:
            hex_text = mutate_assembly_line(rng, hex_text)
        memory = rng.choice(["", "00 01 02 03", "zz", "0", "aa" * 64])
        # The plugin's default limit is 10**10 instructions (issue 2: a correct loop of 10**9
        # must finish), minutes for an endless loop: every run names a small limit.
        options = rng.choice([["--insn-limit 1000"], ["--profile solana --insn-limit 20000"],
                              ["--profile", "solana", "--insn-limit", "20000"],
                              ["--insn-limit", "0"], ["--bogus"]])
        return Case("bytecode-plugin", (memory, *options), (), hex_text, tool="plugin")
    file = "p.hex" if where == "hex" else "p.bin"
    data = " ".join(f"{b:02x}" for b in code).encode() if where == "hex" else code
    if where == "disasm":
        return Case("bytecode-disasm", ("disasm", "{dir}/" + file), ((file, data),))
    profile = rng.choice(["linux", "solana"])
    return Case("bytecode-exec", ("exec", "{dir}/" + file, "--insn-limit", "20000",
                                  "--profile", profile, "--mem",
                                  rng.choice(["", "00 00 00 00 00 00 00 00", "ff"])),
                ((file, data),))


def assembly_case(rng: random.Random, seeds: Seeds) -> Case:
    """Damaged assembly through ``asm`` or ``exec``."""
    source = random_assembly(rng, seeds)
    command = rng.choice(["asm", "asm", "exec"])
    argv = ("asm", "{dir}/p.s") if command == "asm" else \
        ("exec", "{dir}/p.s", "--insn-limit", "20000")
    return Case(f"asm-{command}", argv, (("p.s", source.encode("utf-8", "surrogatepass")),))


def elf_case(rng: random.Random, seeds: Seeds) -> Case:
    """A mutated clang object through ``disasm`` or ``exec``."""
    data = mutate_object(rng, rng.choice(seeds.objects))
    command = rng.choice(["disasm", "exec"])
    argv: tuple[str, ...] = (command, "{dir}/p.o")
    if rng.random() < 0.5:
        argv += ("--section", rng.choice(["socket", "xdp", ".text", "tc", "nope"]))
    if command == "exec":
        argv += ("--insn-limit", "20000")
    return Case(f"elf-{command}", argv, (("p.o", data),))


def trace_case(rng: random.Random, seeds: Seeds) -> Case:
    """A mutated explorer trace through ``replay``."""
    assert seeds.trace is not None
    return Case("trace-replay", ("replay", "{dir}/t.json"),
                (("t.json", mutate_trace(rng, seeds.trace).encode()),))


_FLAG_VALUES = ("0", "-1", "1", "nan", "inf", "1e308", "2**64", "18446744073709551617", "",
                "é", "--", "-h", "text", "json", "sarif", "linux", "solana", "fast", "auto",
                "0x10", "1_0", " 3")


def cli_case(rng: random.Random, seeds: Seeds) -> Case:
    """A command line with odd flags and values (long runs are kept small)."""
    bundle = str(ROOT / "examples" / rng.choice(["heartbeat.yaml", "broken_over_budget.yaml",
                                                 "pairs_trading.yaml"]))
    program = str(ROOT / "examples" / "programs" / "checksum.s")
    verb = rng.choice(["run", "explore", "verify", "exec", "disasm", "asm", "replay", "schema",
                       "prove", "frob", ""])
    target = program if verb in ("exec", "disasm", "asm") else bundle
    if verb == "prove":  # one small group keeps the run short; a bundle path is a bad name
        target = rng.choice(["tailcall", "watchers.edge", bundle])
    flags = ["--slots", "--max-states", "--max-depth", "--format", "--timeout", "--rlimit",
             "--insn-limit", "--profile", "--engine", "--mem", "--section", "--trace",
             "--no-explore", "--max-memory", "--exact-states", "--no-timing", "--bogus",
             "--version", "--help", "--debug"]
    argv = [verb] if verb else []
    if rng.random() < 0.9:
        argv.append(target)
    for _ in range(rng.randrange(0, 4)):
        argv.append(rng.choice(flags))
        if rng.random() < 0.7:
            argv.append(rng.choice(_FLAG_VALUES))
    # Keep runs short: every count the fuzzer supplies is small; big ones are refused. A bare
    # bundle path means verify (then explore), so it is bounded the same way.
    if verb == "" and argv and argv[0] == target:
        verb = "verify"
    if verb in ("run", "explore", "verify"):
        argv += ["--slots", "2"] if verb != "verify" else ["--no-explore"]
        if verb == "explore":
            argv += ["--max-states", "40"]
        if verb == "verify":
            argv += ["--timeout", "2"]
    return Case("cli", tuple(argv))


GENERATORS: dict[str, tuple[Callable[[random.Random, Seeds], Case], int]] = {
    "bundle": (bundle_case, 40),
    "bytecode": (bytecode_case, 20),
    "assembly": (assembly_case, 15),
    "elf": (elf_case, 15),
    "trace": (trace_case, 2),
    "cli": (cli_case, 8),
}


def next_case(rng: random.Random, seeds: Seeds, only: Sequence[str] | None = None) -> Case:
    """Return one case from a generator chosen by weight (skipping those without seeds, and
    those not in ``only`` when it is given)."""
    names = [n for n in GENERATORS if (n != "elf" or seeds.objects) and
             (n != "trace" or seeds.trace) and (only is None or n in only)]
    name = rng.choices(names, [GENERATORS[n][1] for n in names])[0]
    return GENERATORS[name][0](rng, seeds)
