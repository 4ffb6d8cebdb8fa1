"""Checks that object code read from the persistent cache is an ELF file of the kind the CPU
backend writes, before LLVM's linker sees a byte of it.

MCJIT's linker (RuntimeDyld) trusts its input: a section header pointing past the end of the
file, a relocation naming a symbol that does not exist or of a type it does not implement, or an
import that nothing defines crashes or aborts the whole process. The cache file's checksum only
says the bytes are the ones that were written; this says they are bytes jitcore could have
written. Parsed here with `struct` alone:

- the header: ELF64, little-endian, relocatable (ET_REL), this host's machine, the standard
  header and section header sizes, no program headers, the section header table in the file;
- every section: a type the backend produces, an alignment that is a power of two up to a page,
  its bytes inside the file (zero-fill sections: bounded in total), its name inside the section
  name string table (itself a NUL-delimited string table);
- the symbol table: fixed-size entries, a string table whose names are NUL-terminated, each
  name and section index valid, each defined symbol inside its section, no TLS, IFUNC or
  common symbols;
- relocations: against the symbol table, applied to a loaded section, of the types the large
  code model produces (the linker stops the process on a 32-bit value that does not fit),
  each naming an existing symbol that is an import, absolute, or in a loaded section (never a
  file symbol), patching bytes inside the section;
- `.eh_frame` (which the linker registers with the process's unwinder): whole records, each
  FDE pointing back to a CIE of a known version and augmentation;
- the entry points: defined global functions in executable sections;
- the imports (undefined symbols, read from the symbol table, not from any metadata): all in
  the allowed set, for the CPU backend `cpu_imports()`, derived from its code generator.

    check_object(data, entry_points, allowed_imports) -> sorted imported names
    cpu_imports() -> frozenset of the names generated CPU code may import

Anything else raises BadObject, whose message says what is wrong.
"""
from __future__ import annotations

import platform
import struct
import sys

# ELF constants (System V ABI, the x86-64 and AArch64 supplements).
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")
_REL = struct.Struct("<QQ")
_U32 = struct.Struct("<I")

EM_X86_64, EM_AARCH64 = 62, 183
_ET_REL = 1
SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 0, 1, 2, 3, 4
SHT_NOTE, SHT_NOBITS, SHT_REL = 7, 8, 9
SHT_X86_64_UNWIND = 0x70000001
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4
_SHF_REFUSED = 0x200 | 0x400 | 0x800      # group member, TLS, compressed: never generated
SHN_UNDEF, SHN_LORESERVE, SHN_ABS = 0, 0xff00, 0xfff1
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE = 0, 1, 2, 3, 4

MAX_ALIGN = 4096            # constant pools ask for at most a cache line or a vector
MAX_ZERO_FILL = 1 << 26     # bytes of .bss the linker may be asked to reserve

# Relocation types of the large code model (MCJIT's default, which the backend uses), with the
# number of bytes each patches: absolute and PC-relative 64-bit values, and on AArch64 64-bit
# addresses built 16 bits at a time, and branches (which the linker routes through stubs). The
# 32-bit forms are refused: the linker stops the process (assertions) when a value does not
# fit, which depends on where memory happens to be.
_RELOCATIONS = {
    EM_X86_64: {0: 0, 1: 8, 24: 8},
    EM_AARCH64: {0: 0, 257: 8, 260: 8, 264: 4, 266: 4, 268: 4, 269: 4, 282: 4, 283: 4},
}
_SECTION_TYPES = {SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOTE,
                  SHT_NOBITS, SHT_REL}
_MACHINE_SECTION_TYPES = {EM_X86_64: {SHT_X86_64_UNWIND}, EM_AARCH64: set()}
_MACHINES = {"x86_64": EM_X86_64, "amd64": EM_X86_64, "aarch64": EM_AARCH64,
             "arm64": EM_AARCH64}
# CIE augmentations LLVM writes for functions without exception handlers.
_CIE_AUGMENTATIONS = {b"", b"zR"}


class BadObject(ValueError):
    """Object code that must not be linked (the message says why)."""


def host_machine():
    """The ELF machine number of this host, or None where no checks are defined (then every
    object is refused, and the cache always recompiles)."""
    if sys.byteorder != "little":
        return None
    return _MACHINES.get(platform.machine().lower())


class _Section:
    __slots__ = ("index", "name", "type", "flags", "offset", "size", "link", "info", "align",
                 "entsize")

    def __init__(self, index, fields):
        (self.name, self.type, self.flags, _addr, self.offset, self.size, self.link,
         self.info, self.align, self.entsize) = fields
        self.index = index


def check_object(data: bytes, entry_points, allowed_imports, machine=None) -> list:
    """Check `data` (see the module's docstring); return the names it imports, sorted.
    `machine`: the ELF machine it must be for (default: this host's)."""
    machine = host_machine() if machine is None else machine
    if machine not in _RELOCATIONS:
        raise BadObject(f"no object code checks for this host ({platform.machine()})")
    data = bytes(data)
    sections = _sections(data, machine)
    symbols = _symbols(data, sections)
    # What a relocation may name: symbol 0 (an absolute value), an import, an absolute
    # symbol, or one in a loaded section. The linker stops the process on a file symbol, or a
    # section symbol without its section.
    nameable = [i == 0 or kind != STT_FILE and (
        shndx == SHN_UNDEF or shndx == SHN_ABS and kind != STT_SECTION or
        shndx < SHN_LORESERVE and bool(sections[shndx].flags & SHF_ALLOC))
        for i, (_, _, kind, shndx, _, _) in enumerate(symbols)]
    for sec in sections:
        if sec.type in (SHT_REL, SHT_RELA):
            _check_relocations(data, sec, sections, nameable, _RELOCATIONS[machine])
        if sec.name == ".eh_frame":
            _check_eh_frame(data, sec)
    _check_entry_points(symbols, sections, entry_points)
    imports = sorted({name for name, bind, kind, shndx, _, _ in symbols[1:]
                      if shndx == SHN_UNDEF})
    refused = [n for n in imports if n not in allowed_imports]
    if refused:
        raise BadObject(f"imports {', '.join(refused)}, which generated code never calls")
    return imports


def _sections(data, machine):
    if len(data) < _EHDR.size:
        raise BadObject(f"{len(data)} bytes, shorter than an ELF header")
    (ident, e_type, e_machine, e_version, _entry, e_phoff, e_shoff, _flags, e_ehsize,
     _phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx) = _EHDR.unpack_from(data)
    if ident[:4] != b"\x7fELF":
        raise BadObject("not an ELF file")
    if ident[4:7] != b"\x02\x01\x01":
        raise BadObject("not a little-endian ELF64 file of version 1")
    if e_type != _ET_REL or e_version != 1:
        raise BadObject(f"ELF type {e_type} version {e_version}, not a relocatable object")
    if e_machine != machine:
        raise BadObject(f"machine {e_machine}, this host is {machine}")
    if e_ehsize != _EHDR.size or e_shentsize != _SHDR.size or e_phnum or e_phoff:
        raise BadObject("unexpected header sizes or program headers")
    if not 0 < e_shnum < SHN_LORESERVE or e_shoff < _EHDR.size or \
            e_shoff + e_shnum * _SHDR.size > len(data):
        raise BadObject(f"section header table ({e_shnum} at {e_shoff}) outside the file")
    sections = [_Section(i, f) for i, f in enumerate(
        _SHDR.iter_unpack(data[e_shoff:e_shoff + e_shnum * _SHDR.size]))]
    if any(_SHDR.unpack_from(data, e_shoff)):
        raise BadObject("section 0 is not the null section")
    allowed_types = _SECTION_TYPES | _MACHINE_SECTION_TYPES[machine]
    zero_fill = 0
    for sec in sections[1:]:
        if sec.type not in allowed_types or sec.type == SHT_NULL:
            raise BadObject(f"section {sec.index} has type {sec.type:#x}")
        if sec.flags & _SHF_REFUSED:
            raise BadObject(f"section {sec.index} has flags {sec.flags:#x}")
        if sec.align > MAX_ALIGN or sec.align & (sec.align - 1):
            raise BadObject(f"section {sec.index} asks for alignment {sec.align}")
        if sec.type == SHT_NOBITS:
            zero_fill += sec.size
        elif sec.offset + sec.size > len(data):
            raise BadObject(f"section {sec.index} ({sec.size} bytes at {sec.offset}) "
                            f"ends past the end of the file ({len(data)} bytes)")
    if zero_fill > MAX_ZERO_FILL:
        raise BadObject(f"{zero_fill} bytes of zero-filled sections")
    if not 0 < e_shstrndx < e_shnum:
        raise BadObject(f"section name table index {e_shstrndx} of {e_shnum}")
    names = _string_table(data, sections, e_shstrndx, "section name table")
    for sec in sections:
        sec.name = names(sec.name, f"name of section {sec.index}")
    return sections


def _string_table(data, sections, index, what):
    """A function reading the NUL-terminated string at an offset of section `index`."""
    if not 0 < index < len(sections) or sections[index].type != SHT_STRTAB:
        raise BadObject(f"{what}: section {index} is not a string table")
    sec = sections[index]
    table = data[sec.offset:sec.offset + sec.size]
    # Both ends NUL: every offset inside names a string that ends inside the table.
    if not table or table[0] != 0 or table[-1] != 0:
        raise BadObject(f"{what}: section {index} is not NUL-delimited")

    def name(offset, of):
        if offset >= len(table):
            raise BadObject(f"{of}: offset {offset} past the end of the {what}")
        return table[offset:table.index(b"\0", offset)].decode("latin-1")
    return name


def _symbols(data, sections):
    """[(name, binding, type, section index, value, size)] of the one symbol table."""
    tables = [s for s in sections if s.type == SHT_SYMTAB]
    if len(tables) != 1:
        raise BadObject(f"{len(tables)} symbol tables")
    sec = tables[0]
    if sec.entsize != _SYM.size or sec.size % _SYM.size or sec.size == 0:
        raise BadObject(f"symbol table of {sec.size} bytes in entries of {sec.entsize}")
    count = sec.size // _SYM.size
    if sec.info > count:
        raise BadObject(f"symbol table: first global {sec.info} of {count}")
    names = _string_table(data, sections, sec.link, "symbol name table")
    raw = list(_SYM.iter_unpack(data[sec.offset:sec.offset + sec.size]))
    if any(raw[0]):
        raise BadObject("symbol 0 is not the null symbol")
    out = [("", STB_LOCAL, STT_NOTYPE, SHN_UNDEF, 0, 0)]
    for i, (st_name, info, _other, shndx, value, size) in enumerate(raw[1:], 1):
        bind, kind = info >> 4, info & 0xF
        name = names(st_name, f"symbol {i}")
        if bind not in (STB_LOCAL, STB_GLOBAL, STB_WEAK) or \
                kind not in (STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE):
            raise BadObject(f"symbol {i} ({name!r}) has binding {bind} and type {kind}")
        if shndx == SHN_UNDEF:
            if bind == STB_LOCAL or not name or kind not in (STT_NOTYPE, STT_FUNC, STT_OBJECT):
                raise BadObject(f"symbol {i} ({name!r}): an undefined symbol of binding "
                                f"{bind} and type {kind}")
        elif shndx >= SHN_LORESERVE:
            if shndx != SHN_ABS:   # common and extended-index symbols are never generated
                raise BadObject(f"symbol {i} ({name!r}) has section index {shndx:#x}")
        elif shndx >= len(sections) or sections[shndx].type == SHT_NULL:
            raise BadObject(f"symbol {i} ({name!r}) is in section {shndx} of "
                            f"{len(sections)}")
        elif value + size > sections[shndx].size:
            raise BadObject(f"symbol {i} ({name!r}) ends past its section")
        out.append((name, bind, kind, shndx, value, size))
    return out


def _check_relocations(data, sec, sections, nameable, widths):
    """`nameable[i]`: whether a relocation may name symbol i."""
    what = f"relocation section {sec.index}"
    entry = _RELA if sec.type == SHT_RELA else _REL
    if sec.entsize != entry.size or sec.size % entry.size:
        raise BadObject(f"{what}: {sec.size} bytes in entries of {sec.entsize}")
    if not 0 < sec.link < len(sections) or sections[sec.link].type != SHT_SYMTAB:
        raise BadObject(f"{what}: links to section {sec.link}, not the symbol table")
    if not 0 < sec.info < len(sections):
        raise BadObject(f"{what}: applies to section {sec.info} of {len(sections)}")
    target = sections[sec.info]
    if not target.flags & SHF_ALLOC or target.type in (SHT_NOBITS, SHT_NULL):
        raise BadObject(f"{what}: applies to section {sec.info}, which is not loaded")
    rows = list(entry.iter_unpack(data[sec.offset:sec.offset + sec.size]))
    if not rows:
        return
    # Whole-table checks (sets and maxima): a large program has tens of thousands of entries.
    unknown = {r[1] & 0xFFFFFFFF for r in rows} - widths.keys()
    if unknown:
        raise BadObject(f"{what}: relocation type {min(unknown)}")
    named = {r[1] >> 32 for r in rows}
    if max(named) >= len(nameable) or not all(nameable[i] for i in named):
        bad = min(i for i in named if i >= len(nameable) or not nameable[i])
        raise BadObject(f"{what}: names symbol {bad} of {len(nameable)}, which a relocation "
                        f"cannot name")
    if max(r[0] + widths[r[1] & 0xFFFFFFFF] for r in rows) > target.size:
        raise BadObject(f"{what}: patches bytes past the end of section {sec.info}")


def _check_eh_frame(data, sec):
    """Whole records, a zero terminator at most, FDEs pointing back at CIEs we know."""
    frame = data[sec.offset:sec.offset + sec.size] if sec.type != SHT_NOBITS else b""
    pos, cies = 0, set()
    while pos < len(frame):
        if len(frame) - pos < 4:
            raise BadObject(f".eh_frame: {len(frame) - pos} stray bytes at {pos}")
        (length,) = _U32.unpack_from(frame, pos)
        if length == 0:
            break
        end = pos + 4 + length
        if length < 8 or end > len(frame):   # 0xffffffff (64-bit records) lands here too
            raise BadObject(f".eh_frame: a record of {length} bytes at {pos}")
        (cie_pointer,) = _U32.unpack_from(frame, pos + 4)
        if cie_pointer == 0:
            version = frame[pos + 8]
            augmentation_end = frame.find(b"\0", pos + 9, end)
            augmentation = frame[pos + 9:augmentation_end]
            if version not in (1, 3) or augmentation_end < 0 or \
                    augmentation not in _CIE_AUGMENTATIONS:
                raise BadObject(f".eh_frame: a CIE at {pos} of version {version}, "
                                f"augmentation {augmentation!r}")
            cies.add(pos)
        elif pos + 4 - cie_pointer not in cies:
            raise BadObject(f".eh_frame: the FDE at {pos} points at no CIE")
        pos = end


def _check_entry_points(symbols, sections, entry_points):
    defined = {name: (bind, kind, shndx) for name, bind, kind, shndx, _, _ in symbols
               if shndx != SHN_UNDEF}
    for name in entry_points:
        bind, kind, shndx = defined.get(name, (None, None, SHN_UNDEF))
        if bind != STB_GLOBAL or kind != STT_FUNC or shndx >= len(sections) or \
                not sections[shndx].flags & SHF_EXECINSTR:
            raise BadObject(f"entry point {name!r} is not a function defined in the code")


# --- what generated CPU code imports ----------------------------------------------------------

# Calls LLVM itself introduces while generating machine code: `frem` becomes fmod; memory
# intrinsics and recognized copy/fill loops become memcpy, memmove, memset; rounding, square
# root, fused multiply-add, min/max and copysign intrinsics become their C library functions on
# CPUs without an instruction for them; pow(2, x) and pow(10, x) may become exp2 and exp10.
_LLVM_LIBM = ("fmod", "floor", "ceil", "trunc", "round", "roundeven", "rint", "nearbyint",
              "sqrt", "fma", "fmin", "fmax", "copysign", "ldexp", "exp2", "exp10")
_LLVM_MEMORY = ("memcpy", "memmove", "memset")
_cpu_imports = None


def cpu_imports() -> frozenset:
    """The names code generated by the CPU backend may import: the C math functions its math
    provider falls back to and those LLVM lowers intrinsics to (each in its double and float
    form), the memory functions, and the runtime routines `cpu.runtime` provides."""
    global _cpu_imports
    if _cpu_imports is None:
        from ops.core import MATH_ROUTINES

        from ..llvm import math as llvm_math
        from . import runtime as cpu_runtime
        libm = {r.libm for r in MATH_ROUTINES.values() if r.libm is not None} | \
            set(llvm_math.LIBM_FLOAT64) | set(_LLVM_LIBM)
        _cpu_imports = frozenset(libm | {n + "f" for n in libm} | set(_LLVM_MEMORY) |
                                 set(cpu_runtime.ROUTINES))
    return _cpu_imports
