"""
What the executor's parts see of it
===================================

The symbolic executor (:class:`~arspec.checker.symbolic.Executor`) and the bundle executor
(:class:`~arspec.checker.objects.BundleExecutor`) hand themselves to the modules that execute
one concern for them: loops (:mod:`~arspec.checker.symloops`), iterators
(:mod:`~arspec.checker.iterators`), callbacks (:mod:`~arspec.checker.callbacks`), locks and
dynptrs (:mod:`~arspec.checker.lockdyn`), syscalls (:mod:`~arspec.checker.syscalls`) and
program contexts (:mod:`~arspec.checker.contexts`). Those modules type it with the protocols
here, so they import no executor and the imports go one way: ``objects`` -> ``symbolic`` ->
its parts -> this module -> :mod:`~arspec.checker.symstate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from arspec.reference.isa.instructions import Imm, Instruction, Program, Reg
from arspec.reference.vm.profiles import Profile
from arspec.spec.helpers import HelperDef

from . import solver as z
from .assertions import Assertion
from .bundle_model import BundleContext, BundleFacts, MemObject
from .cfg import ControlFlow, Function
from .symstate import Context, Inputs, Iters, LoopSummary, Memory, State, Value


class SymbolicExecutor(Protocol):
    """The part of :class:`~arspec.checker.symbolic.Executor` its loop and context modules use."""

    cfg: ControlFlow
    program: Program
    profile: Profile
    session: z.Session
    unroll_limit: int
    loops: dict[int, LoopSummary]
    checking: bool
    fresh_count: int
    cu_exact: bool
    inputs: Inputs
    realisable: list[Any]

    def fresh(self, prefix: str, width: int = 64) -> Any:
        """Return a fresh variable."""

    def require(self, pc: int, assertion: Assertion, state: State, violation: Any,
                fault: Any | None) -> bool:
        """Check ``assertion`` on ``state``; return whether it may still hold."""

    def note(self, pc: int, assertion: Assertion, note: str) -> None:
        """Record a note on ``assertion``."""

    def add_fault_exit(self, state: State, fault: Any) -> None:
        """Record that ``state`` faults when ``fault`` holds."""

    def read(self, pc: int, state: State, reg: int) -> Value:
        """Return register ``reg`` (it must be initialised)."""

    def operand(self, pc: int, state: State, src: Reg | Imm, is64: bool) -> Value:
        """Return the value of a register or immediate operand."""

    def unsupported(self, pc: int, insn: Instruction, state: State) -> None:
        """Note an instruction the verifier does not model and over-approximate it."""

    def _flush(self, memory: Memory, keep: Callable[[int], bool] | None = None) -> None:
        """Write the memory overlay into its array."""

    def load_bytes(self, state: State, address: Any, size: int) -> tuple[Any, Any]:
        """Return the bytes at ``address`` and whether they are initialised."""

    def store_bytes(self, state: State, address: Any, value: Any, size: int, *,
                    region: Callable[[int], bool] | None = None) -> None:
        """Store ``size`` bytes of ``value`` at ``address``."""

    def havoc_memory(self, state: State) -> None:
        """Forget everything ``state`` knows of memory."""

    def merge(self, states: list[State]) -> State | None:
        """Return one state that covers ``states``."""

    def run_function(self, entry: int, state: State, ctx: Context) -> State | None:
        """Execute the function at ``entry`` from ``state``; return its merged exit."""

    def run_region(self, function: Function, region: frozenset[int], header: int | None,
                   start: int, state: State, ctx: Context, iters: Iters
                   ) -> tuple[dict[int, list[State]], list[State], list[State]]:
        """Execute ``region`` of ``function`` from ``start``."""

    def iteration_bound(self, state: State, limit: int) -> int | None:
        """Return a bound on a helper-driven loop's iterations, or ``None``."""


class BundleMachine(SymbolicExecutor, Protocol):
    """The part of :class:`~arspec.checker.objects.BundleExecutor` its helper modules use."""

    context: BundleContext
    objects: dict[int, MemObject]
    facts: BundleFacts
    null_conditions: dict[int, Any]
    iterators: set[int | None]
    dynptr_slots: set[int]
    slice_regions: dict[int, int]
    slices: dict[str, int]
    current_pc: int
    pending_havoc: bool

    def new_object(self, size: int, writable: bool, what: str, *, map_index: int | None = None,
                   ref: int | None = None) -> MemObject:
        """Allocate an object region."""

    def forget_regions(self, state: State, regions: list[int]) -> None:
        """Forget what ``state`` knows of ``regions``."""

    def range_valid(self, state: State | None, address: Any, size: Any, *, write: bool,
                    policy: bool) -> Any:
        """Return when ``size`` bytes at ``address`` may be accessed."""

    def arg_buffer(self, pc: int, row: HelperDef, state: State, reg: int, size: Any, *,
                   write: bool, rule: str) -> None:
        """Check a helper's buffer argument."""

    def write_buffer(self, state: State, reg: int, size: Any, key: str, ok: Any) -> None:
        """Havoc the buffer a helper writes."""

    def store_plain(self, state: State, address: Any, value: Any, size: int) -> None:
        """Store without the bundle's checks (the symbolic executor's own store)."""
