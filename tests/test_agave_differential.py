"""Differential tests: arspec's ``solana`` profile (SBPFv0) against Agave's VM (LiteSVM).

A fixed-seed sample of :func:`~arspec.reference.differential.agave_diff.generate_case` programs
runs on
both; refusal, status (error code, fault kind, address and size), compute units and logs
must agree. ``benchmarks/diff_agave.py`` runs the same comparison on 100,000 programs.
Skipped, with the reason printed, only when ``solders`` cannot be imported.
"""

from __future__ import annotations

import random
import struct

import pytest

from arspec.reference.differential.agave_diff import (
    AgaveOracle,
    Case,
    Outcome,
    classify,
    generate_case,
    run_arspec,
)
from arspec.reference.differential.sbpf_elf import write_sbpf_v0_elf
from arspec.reference.isa.murmur3 import murmur3_32

pytestmark = pytest.mark.agave


@pytest.fixture(scope="module")
def oracle() -> AgaveOracle:
    try:
        return AgaveOracle()
    except ImportError as err:
        print(f"Agave differential tests skipped: {err}")
        pytest.skip(f"solders (LiteSVM) is not installed: {err}")


def test_invalid_divergences_are_classified() -> None:
    ok = Outcome(False, "success", 5, ("Program log: a",))
    assert classify(ok, ok) is None
    assert classify(ok, Outcome(True, "refused at pc 0", 0, ())) == "load: refused by one side only"
    assert classify(Outcome(True, "refused at pc 1", 0, ()),
                    Outcome(True, "refused at pc 0", 0, ())) == "load: refusal pc"
    assert classify(ok, Outcome(False, "Custom(1)", 5, ())) == "status: Custom(1)"
    assert classify(ok, Outcome(False, "success", 6, ok.logs)) == "compute units"
    assert classify(ok, Outcome(False, "success", 5, ())) == "logs"


def test_invalid_oracle_sees_a_planted_difference(oracle: AgaveOracle) -> None:
    # mov r0, 0; exit costs 2 units on Agave; a claim of 3 must be caught.
    case = Case(bytes.fromhex("b700000000000000" "9500000000000000"))
    program_id = oracle.program_id()
    theirs = oracle.run(case, program_id)
    assert theirs == Outcome(False, "success", 2, ())
    assert classify(Outcome(False, "success", 3, ()), theirs) == "compute units"


@pytest.mark.parametrize("seed", range(4))
def test_random_programs_match_agave(oracle: AgaveOracle, seed: int) -> None:
    rng = random.Random(seed)
    clock = oracle.clock()
    found = []
    for _ in range(100):
        case = generate_case(rng)
        program_id = oracle.program_id()
        ours = run_arspec(case, clock, program_id, engine="interpreter" if seed % 2 else "auto")
        theirs = oracle.run(case, program_id)
        divergence = classify(ours, theirs)
        if divergence is not None:
            found.append(f"{divergence}: {case.text.hex()} {case.sites} {case.data.hex()} "
                         f"limit {case.limit}\n  arspec {ours}\n  agave  {theirs}")
    assert not found, "\n".join(found[:3])


def test_serialized_input_with_accounts_matches_agave(oracle: AgaveOracle) -> None:
    """r1's region with three accounts (a signer, a read-only one passed twice): arspec's
    bytes hash like Agave's, and r2 points at the instruction data in both."""
    from solders.account import Account
    from solders.instruction import AccountMeta, Instruction
    from solders.keypair import Keypair
    from solders.litesvm import LiteSVM
    from solders.pubkey import Pubkey
    from solders.transaction import Transaction

    from arspec.reference.differential.agave_diff import lddw, word
    from arspec.reference.isa.decoder import decode_sbpf_v0
    from arspec.reference.runtime.solana_syscalls import solana_syscalls
    from arspec.reference.vm.profiles import SOLANA
    from arspec.reference.vm.vm import SbpfAccount, Vm, entry_input, standard_memory

    heap, data = 0x3_0000_0000, b"xyz"
    text = (word(0xBF, 6, 2) + word(0xBF, 1, 2) + word(0x85, imm=-1)
            + lddw(7, heap) + lddw(8, 0x4_0000_0000) + word(0x7B, 7, 8)
            + word(0x79, 9, 6, -8) + word(0x07, 9, imm=32) + word(0x1F, 6, 8)
            + word(0x0F, 9, 6) + word(0x7B, 7, 9, 8)
            + lddw(1, heap) + word(0xB7, 2, imm=1) + lddw(3, heap + 64) + word(0x85, imm=-1)
            + lddw(8, heap + 64) + word(0x7B, 7, 8) + word(0x7A, 7, 0, 8, 32)
            + lddw(1, heap) + word(0xB7, 2, imm=1) + word(0x85, imm=-1)
            + word(0xB7) + word(0x95))
    calls = [pc for pc in range(len(text) // 8) if text[8 * pc] == 0x85]
    sites = dict(zip(calls, ("sol_log_64_", "sol_sha256", "sol_log_data"), strict=True))
    relocated = bytearray(text)  # what arspec reads: each call holds murmur3_32(name)
    for pc, name in sites.items():
        struct.pack_into("<I", relocated, 8 * pc + 4, murmur3_32(name.encode()))
    text = bytes(relocated)
    svm, pid, payer, other = LiteSVM(), Pubkey.new_unique(), Keypair(), Pubkey.new_unique()
    svm.add_program(pid, write_sbpf_v0_elf(text, sites))
    svm.airdrop(payer.pubkey(), 10**9)
    svm.set_account(other, Account(lamports=12345, data=b"hello", owner=pid, executable=False,
                                   rent_epoch=7))
    metas = [AccountMeta(payer.pubkey(), True, True), AccountMeta(other, False, False),
             AccountMeta(other, False, False)]
    tx = Transaction.new_signed_with_payer([Instruction(pid, data, metas)], payer.pubkey(),
                                           [payer], svm.latest_blockhash())
    result = svm.send_transaction(tx)
    agave_logs = [line for line in result.logs() if line.startswith("Program ")
                  and ("log:" in line or "data:" in line)]
    paid, read = svm.get_account(payer.pubkey()), svm.get_account(other)
    accounts = (
        SbpfAccount(bytes(payer.pubkey()), bytes(paid.owner), paid.lamports, bytes(paid.data),
                    is_signer=True, is_writable=True),
        SbpfAccount(bytes(other), bytes(read.owner), read.lamports, bytes(read.data)),
        SbpfAccount(bytes(other), dup_of=1))
    region, args = entry_input(SOLANA, data, bytes(pid), accounts)
    program = decode_sbpf_v0(text)
    vm = Vm(program, profile=SOLANA, helpers=solana_syscalls(),
            memory=standard_memory(program, SOLANA, region, text=text))
    ours = vm.run(0, args)
    assert ours.fault is None
    assert list(ours.logs) == agave_logs
    assert args[1] == 0x4_0000_0000 + 20704


def test_invalid_program_id_length() -> None:
    from arspec.reference.vm.vm import serialize_sbpf_input
    from arspec.spec.errors import InputError

    with pytest.raises(InputError, match="program id of 31 bytes"):
        serialize_sbpf_input(b"", bytes(31))
