"""A small seccomp filter for sandboxed workers, as the classic BPF program bwrap loads.

Namespaces and an unprivileged uid leave user code no capability, except through one door:
creating a user namespace of its own, inside which it is root. That is how most kernel
privilege escalations of recent years began (netfilter, io_uring), so the filter closes it,
as bwrap's ``--disable-userns`` would (which cannot be combined with the uid mapping the
launcher does). It also refuses a few system calls no function needs and that only widen
the kernel's attack surface, and three that would let a function hold memory outside its
RLIMIT_AS. Everything else is allowed.
"""

from __future__ import annotations

import errno
import platform
import struct
from dataclasses import dataclass

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
# Offsets in struct seccomp_data: nr, arch, then the low half of args[0] (little-endian).
OFFSET_NR = 0
OFFSET_ARCH = 4
OFFSET_ARG0_LOW = 16
CLONE_NEWUSER = 0x10000000
X32_SYSCALL_BIT = 0x40000000


@dataclass(frozen=True)
class Arch:
    audit_arch: int
    clone: int
    unshare: int
    # bpf, perf_event_open, userfaultfd, keyctl, add_key, request_key: attack surface only.
    denied: tuple[int, ...]
    # memfd_create, shmget, msgget: memory that RLIMIT_AS does not count (an unmapped memfd,
    # a detached shared memory segment, queued messages), so a function could hoard it.
    hoarding: tuple[int, ...]


# clone3 (435) and io_uring_setup/enter/register (425-427) share numbers on every arch.
CLONE3 = 435
IO_URING = (425, 426, 427)

ARCHES = {
    "x86_64": Arch(
        0xC000003E,
        clone=56,
        unshare=272,
        denied=(321, 298, 323, 250, 248, 249),
        hoarding=(319, 29, 68),
    ),
    "aarch64": Arch(
        0xC00000B7,
        clone=220,
        unshare=97,
        denied=(280, 241, 282, 219, 217, 218),
        hoarding=(279, 194, 186),
    ),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture, or None where we have no table for it.

    clone3 answers ENOSYS, as in Docker's profile: its flags sit in memory the filter
    cannot read, and the C library then falls back to clone, whose flags it checks.
    """
    arch = ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    refused = (*arch.denied, *arch.hoarding, *IO_URING)
    head = [
        _op(LD_W_ABS, OFFSET_ARCH),
        _op(JEQ_K, arch.audit_arch, jt=1),
        _op(RET_K, RET_ERRNO | errno.ENOSYS),  # another ABI (i386, x32): no system calls
        _op(LD_W_ABS, OFFSET_NR),
        _op(JGE_K, X32_SYSCALL_BIT, jf=1),
        _op(RET_K, RET_ERRNO | errno.ENOSYS),
        _op(JEQ_K, CLONE3, jf=1),
        _op(RET_K, RET_ERRNO | errno.ENOSYS),
    ]
    # Each refused call: "if nr == n: return EPERM".
    body = [
        op for nr in refused for op in (_op(JEQ_K, nr, jf=1), _op(RET_K, RET_ERRNO | errno.EPERM))
    ]
    tail = [
        _op(JEQ_K, arch.unshare, jt=1),
        _op(JEQ_K, arch.clone, jf=3),
        _op(LD_W_ABS, OFFSET_ARG0_LOW),
        _op(JSET_K, CLONE_NEWUSER, jf=1),
        _op(RET_K, RET_ERRNO | errno.EPERM),
        _op(RET_K, RET_ALLOW),
    ]
    return b"".join(head + body + tail)
