"""
Kernel bpf(2)
=============

A small :mod:`ctypes` wrapper around the Linux ``bpf(2)`` system call, just enough to load a
program into the running kernel and run it once with ``BPF_PROG_TEST_RUN``. The differential
tests use it to compare arspec's ``linux`` profile with the kernel itself.

Only two commands are packed, with the layouts of ``union bpf_attr`` in the uapi header
``/usr/include/linux/bpf.h`` (installed by ``linux-libc-dev``, pulled in by ``libbpf-dev``):

``BPF_PROG_LOAD`` (command 5), the anonymous struct "used by BPF_PROG_LOAD command"::

    offset  0  __u32 prog_type          offset 28  __u32 log_size
    offset  4  __u32 insn_cnt           offset 32  __aligned_u64 log_buf
    offset  8  __aligned_u64 insns      offset 40  __u32 kern_version
    offset 16  __aligned_u64 license    offset 44  __u32 prog_flags
    offset 24  __u32 log_level          offset 48  char prog_name[16]

``BPF_PROG_TEST_RUN`` (command 10), the struct ``test``::

    offset  0  __u32 prog_fd            offset 16  __aligned_u64 data_in
    offset  4  __u32 retval (output)    offset 24  __aligned_u64 data_out
    offset  8  __u32 data_size_in       offset 32  __u32 repeat
    offset 12  __u32 data_size_out      offset 36  __u32 duration (output)

Fields after these are left zero; the attribute buffer passed is :data:`ATTR_SIZE` bytes,
all of it zero except the packed fields, which every kernel since 4.12 accepts (it checks
that bytes past the fields it knows are zero).

The system call number is 321 on x86-64 (``asm/unistd_64.h``) and 280 on arm64 (the generic
table, ``asm-generic/unistd.h``). Other machines report the kernel as unavailable.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import struct
from enum import IntEnum
from types import TracebackType
from typing import Final

from arspec.spec.errors import LoadRejection

#: ``bpf(2)`` system call numbers by ``platform.machine()``.
SYSCALL_NUMBERS: Final = {"x86_64": 321, "amd64": 321, "aarch64": 280, "arm64": 280}

#: Size of the ``union bpf_attr`` buffer handed to the kernel.
ATTR_SIZE: Final = 128

#: Commands of ``enum bpf_cmd`` used here.
BPF_PROG_LOAD: Final = 5
BPF_PROG_TEST_RUN: Final = 10

#: Size of the verifier log buffer requested when a load fails.
LOG_SIZE: Final = 1 << 20

#: Packet handed to a socket filter when the caller gives none (an Ethernet header needs 14).
DEFAULT_PACKET: Final = bytes(64)

_LOAD: Final = struct.Struct("<IIQQIIQII16s")
_TEST_RUN: Final = struct.Struct("<IIIIQQII")


class ProgramType(IntEnum):
    """Values of ``enum bpf_prog_type`` that the tests load."""

    SOCKET_FILTER = 1
    KPROBE = 2
    SCHED_CLS = 3
    XDP = 6


class KernelRejected(LoadRejection):
    """The kernel refused the program; ``log`` is the verifier's output (may be empty)."""

    def __init__(self, error_number: int, log: str) -> None:
        self.errno = error_number
        self.log = log
        name = errno.errorcode.get(error_number, str(error_number))
        super().__init__(f"kernel rejected the program ({name}: {os.strerror(error_number)})"
                         + (f"\n{log}" if log else ""))


class KernelUnavailable(OSError):
    """``bpf(2)`` cannot be used here (other OS, unknown machine, not permitted)."""


def _syscall_number() -> int:
    if platform.system() != "Linux":
        raise KernelUnavailable(f"bpf(2) needs Linux, this is {platform.system()}")
    number = SYSCALL_NUMBERS.get(platform.machine())
    if number is None:
        raise KernelUnavailable(f"no known bpf(2) syscall number for {platform.machine()}")
    return number


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _bpf(command: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    """Call ``bpf(command, attr, sizeof attr)``; return the result or raise ``OSError``."""
    libc = _libc()
    result = int(libc.syscall(ctypes.c_long(_syscall_number()), ctypes.c_long(command),
                              attr, ctypes.c_long(len(attr))))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def _address(buffer: ctypes.Array[ctypes.c_char]) -> int:
    return ctypes.addressof(buffer)


class KernelProgram:
    """A program loaded into the kernel; close it (or use ``with``) to release the fd."""

    def __init__(self, fd: int, prog_type: ProgramType) -> None:
        self.fd: int | None = fd
        self.prog_type = prog_type

    def test_run(self, data: bytes = DEFAULT_PACKET) -> int:
        """Run the program once on ``data`` with ``BPF_PROG_TEST_RUN``; return r0 as a u32.

        Raises
        ------
        ValueError
            If the program has been closed.
        OSError
            If the kernel refuses the run (e.g. ``EINVAL`` for a packet shorter than 14 bytes).
        """
        if self.fd is None:
            raise ValueError("program is closed")
        data_in = ctypes.create_string_buffer(bytes(data), max(len(data), 1))
        attr = ctypes.create_string_buffer(ATTR_SIZE)
        _TEST_RUN.pack_into(attr, 0, self.fd, 0, len(data), 0, _address(data_in), 0, 1, 0)
        _bpf(BPF_PROG_TEST_RUN, attr)
        retval: int = struct.unpack_from("<I", attr, 4)[0]
        return retval

    def close(self) -> None:
        """Release the program's file descriptor (idempotent)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> KernelProgram:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def _load(code: bytes, prog_type: ProgramType, log: ctypes.Array[ctypes.c_char] | None) -> int:
    insns = ctypes.create_string_buffer(bytes(code), max(len(code), 1))
    license_text = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(ATTR_SIZE)
    log_level, log_size, log_addr = (1, len(log), _address(log)) if log is not None else (0, 0, 0)
    _LOAD.pack_into(attr, 0, int(prog_type), len(code) // 8, _address(insns),
                    _address(license_text), log_level, log_size, log_addr, 0, 0, b"arspec")
    return _bpf(BPF_PROG_LOAD, attr)


def load_program(code: bytes, prog_type: ProgramType = ProgramType.SOCKET_FILTER) -> KernelProgram:
    """Load encoded instructions into the kernel (license "GPL").

    The first attempt runs without a verifier log (as libbpf does); if it fails the load is
    repeated with ``log_level = 1`` so the rejection carries the verifier's explanation.

    Raises
    ------
    ValueError
        If ``code`` is not a whole number of 8-byte instructions.
    KernelRejected
        If the kernel refuses the program (verifier rejection, ``EPERM``, ...).
    KernelUnavailable
        If there is no ``bpf(2)`` on this machine.
    """
    if not code or len(code) % 8:
        raise ValueError(f"program length {len(code)} is not a positive multiple of 8")
    try:
        return KernelProgram(_load(code, prog_type, None), prog_type)
    except OSError as first:
        if isinstance(first, KernelUnavailable):
            raise
        log = ctypes.create_string_buffer(LOG_SIZE)
        try:
            fd = _load(code, prog_type, log)
        except OSError:
            text = log.value.decode("utf-8", "replace").strip()
            raise KernelRejected(first.errno or 0, text) from None
        return KernelProgram(fd, prog_type)


#: ``r0 = 0; exit``: the probe program used by :func:`kernel_available`.
_PROBE: Final = bytes.fromhex("b700000000000000" "9500000000000000")
_AVAILABLE: list[tuple[bool, str]] = []


def kernel_available() -> tuple[bool, str]:
    """Return ``(True, "")`` if programs can be loaded and test-run here, else ``(False, why)``.

    The answer comes from actually loading and running ``r0 = 0; exit``, and is cached.
    """
    if not _AVAILABLE:
        _AVAILABLE.append(_probe())
    return _AVAILABLE[0]


def _probe() -> tuple[bool, str]:
    try:
        with load_program(_PROBE) as program:
            program.test_run()
    except KernelUnavailable as exc:
        return False, str(exc)
    except KernelRejected as exc:
        return False, f"bpf(BPF_PROG_LOAD) failed: {os.strerror(exc.errno)}"
    except OSError as exc:
        return False, f"bpf(BPF_PROG_TEST_RUN) failed: {exc.strerror}"
    return True, ""
