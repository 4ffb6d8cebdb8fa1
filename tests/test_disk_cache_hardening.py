"""The persistent compilation cache against hostile or damaged files: whatever sits in the cache
directory (a symbolic link swapped in after the directory was checked, a link, a FIFO, a file of
the wrong size, object code with a valid checksum but broken or importing what generated code
never calls), the program is recompiled and gives the right result: no one else's code runs, the
process neither crashes nor hangs.

Every test points the cache at its own temporary folder. Object code that could crash LLVM's
linker is linked for real only in a subprocess, so a regression fails a test instead of killing
the test run."""
import contextvars
import json
import math
import importlib
import os
import pathlib
import platform
import stat
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config
from xla_like.backends import cpu, disk_cache
from xla_like.backends.cpu import object_check

# The fresh-cache and compile-counting fixtures are the ordinary cache tests' own.
from tests.test_disk_cache import cache_dir, llvm_runs  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
X = np.linspace(0.1, 1.9, 64)
X2 = np.linspace(-2.0, 0.5, 64)   # after damage: stale output memory cannot pass for a result


def f(x):
    return jnp.tanh(x) * 3 - x


def f_reference(x):
    return np.tanh(x) * 3 - x




@pytest.fixture
def linked(monkeypatch):
    """The object code handed to LLVM's linker from the disk cache (linked as usual)."""
    seen = []
    original = cpu.llvm.ObjectFileRef.from_data
    monkeypatch.setattr(cpu.llvm.ObjectFileRef, "from_data",
                        classmethod(lambda cls, data: (seen.append(bytes(data)),
                                                       original(data))[1]))
    return seen


@pytest.fixture
def never_linked(monkeypatch):
    """Fails the test if any object code from the disk cache reaches LLVM's linker (which
    could crash on it) while the returned set holds "on"."""
    guard = {"on"}
    original = cpu.llvm.ObjectFileRef.from_data

    def refuse(cls, data):
        if guard:
            raise AssertionError("object code from the cache reached LLVM's linker")
        return original(data)
    monkeypatch.setattr(cpu.llvm.ObjectFileRef, "from_data", classmethod(refuse))
    return guard


def fresh_call(fun, *args):
    """A first call of a new jit of `fun`, with the in-memory machine code forgotten."""
    importlib.import_module("jitcore.jit").forget_wrappers(fun)
    cpu._machine_cache.clear()
    return np.asarray(jc.jit(fun)(*args))


def cache_files(folder):
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith(disk_cache.SUFFIX))


def key_of(path):
    return path.name[:-len(disk_cache.SUFFIX)]


def repack(path, obj):
    """Rewrite the entry at `path` with the object code `obj`: everything else (metadata, its
    list of imports included, LLVM text, checksum) as the cache writes it."""
    meta, _, text = disk_cache.decode(path.read_bytes(), key_of(path))
    path.write_bytes(disk_cache.encode(key_of(path), meta, obj, text))


def reload_after(damage, folder, llvm_runs, capsys):
    """Compile f into `folder`, `damage(path)` its file, call f afresh with JITCORE_DEBUG on;
    check the result and that the file was rejected and f recompiled. Returns the file's path
    and the debug line that rejected it."""
    fresh_call(f, X)
    (path,) = cache_files(folder)
    damage(path)
    runs, rejected = len(llvm_runs), disk_cache.stats["rejected"]
    capsys.readouterr()
    with config.override(debug=1):
        out = fresh_call(f, X2)
    np.testing.assert_allclose(out, f_reference(X2), rtol=1e-13)
    assert len(llvm_runs) == runs + 1, "not recompiled"
    assert disk_cache.stats["rejected"] == rejected + 1
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "cache: ignoring" in ln]
    assert len(lines) == 1 and path.name in lines[0] and "recompiling" in lines[0], lines
    return path, lines[0]


def assert_replaced_by_a_good_file(path, llvm_runs):
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and st.st_nlink == 1
    runs, hits = len(llvm_runs), disk_cache.stats["hits"]
    np.testing.assert_allclose(fresh_call(f, X), f_reference(X), rtol=1e-13)
    assert len(llvm_runs) == runs and disk_cache.stats["hits"] == hits + 1


# --- the directory ----------------------------------------------------------------------------

def test_directory_swapped_for_a_symlink_after_the_check(tmp_path, monkeypatch, llvm_runs,
                                                          linked):
    """Between the directory check and the file open, the victim's cache directory becomes a
    symbolic link to a directory holding a well-formed entry for f with other code."""
    victim, attacker = tmp_path / "victim", tmp_path / "attacker"
    with config.override(cache=1, cache_dir=str(attacker)):
        fresh_call(f, X)
        (planted,) = cache_files(attacker)
        fresh_call(lambda x: x * 1000 + 7, X)
        (other,) = set(cache_files(attacker)) - {planted}
        meta, _, _ = disk_cache.decode(planted.read_bytes(), key_of(planted))
        _, foreign_obj, foreign_text = disk_cache.decode(other.read_bytes(), key_of(other))
        planted.write_bytes(disk_cache.encode(key_of(planted), meta, foreign_obj, foreign_text))
        other.unlink()
        # Read at face value, the planted entry is used: f then computes x * 1000 + 7.
        np.testing.assert_allclose(fresh_call(f, X), X * 1000 + 7, rtol=1e-13)
    planted_bytes = planted.read_bytes()
    linked.clear()

    def swap(path):
        monkeypatch.setattr(disk_cache, "AFTER_DIRECTORY_CHECK", None)   # once
        assert path == str(victim)
        os.rename(victim, tmp_path / "victim.before")
        os.symlink(attacker, victim)

    with config.override(cache=1, cache_dir=str(victim)):
        fresh_call(lambda x: x + 1, X)   # the directory is in use
        runs = len(llvm_runs)
        monkeypatch.setattr(disk_cache, "AFTER_DIRECTORY_CHECK", swap)
        out = fresh_call(f, X)
    np.testing.assert_allclose(out, f_reference(X), rtol=1e-13)
    assert foreign_obj not in linked, "the attacker's object code was linked"
    assert len(llvm_runs) == runs + 1
    assert os.path.islink(victim)          # the swap happened
    assert cache_files(attacker) == [planted] and planted.read_bytes() == planted_bytes


def test_world_writable_directory_is_refused(cache_dir, llvm_runs, capsys):
    cache_dir.mkdir()
    os.chmod(cache_dir, 0o777)
    with config.override(debug=1):
        for _ in range(2):
            np.testing.assert_allclose(fresh_call(f, X), f_reference(X), rtol=1e-13)
    assert cache_files(cache_dir) == [] and len(llvm_runs) == 2
    assert "others may write to it (mode 777)" in capsys.readouterr().out


def test_directory_opened_before_and_made_writable_since_is_refused(cache_dir, llvm_runs,
                                                                      linked):
    fresh_call(f, X)
    os.chmod(cache_dir, 0o707)
    np.testing.assert_allclose(fresh_call(f, X), f_reference(X), rtol=1e-13)
    assert len(llvm_runs) == 2 and not linked


def test_directory_of_another_user_is_refused(cache_dir, llvm_runs, linked, monkeypatch,
                                              capsys):
    fresh_call(f, X)
    other_uid = os.geteuid() + 1
    monkeypatch.setattr(os, "geteuid", lambda: other_uid)
    with config.override(debug=1):
        np.testing.assert_allclose(fresh_call(f, X), f_reference(X), rtol=1e-13)
    assert len(llvm_runs) == 2 and not linked
    assert f"owned by uid {other_uid - 1}" in capsys.readouterr().out


def test_cache_directory_that_is_a_symlink_is_refused(tmp_path, llvm_runs):
    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir(mode=0o700)
    link.symlink_to(real)
    cpu._machine_cache.clear()
    with config.override(cache=1, cache_dir=str(link)):
        for _ in range(2):
            np.testing.assert_allclose(fresh_call(f, X), f_reference(X), rtol=1e-13)
    assert cache_files(real) == [] and len(llvm_runs) == 2


def test_directory_handle_follows_the_settings_and_a_recreated_directory(tmp_path, llvm_runs):
    a, b = tmp_path / "a", tmp_path / "b"
    with config.override(cache=1, cache_dir=str(a)):
        fresh_call(f, X)
    with config.override(cache=1, cache_dir=str(b)):
        fresh_call(f, X)                           # a miss there: compiled and stored
    assert len(cache_files(a)) == len(cache_files(b)) == 1 and len(llvm_runs) == 2
    with config.override(cache=1, cache_dir=str(a)):
        fresh_call(f, X)                           # a hit
        assert len(llvm_runs) == 2
        os.rename(a, tmp_path / "a.old")           # the directory removed and made anew
        a.mkdir(mode=0o700)
        fresh_call(f, X)
    assert len(llvm_runs) == 3 and len(cache_files(a)) == 1


def test_threads_switching_between_directories(tmp_path):
    """Threads storing and loading in two directories at once: the held handle is replaced
    over and over while other threads use it; each load finds what was stored in its own
    directory, and no descriptor is leaked."""
    folders = [str(tmp_path / "one"), str(tmp_path / "two")]
    keys = [f"{k:064x}" for k in range(6)]
    fds_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    errors = []

    def work(t):
        try:
            for i in range(24):
                folder = folders[(t + i) % 2]
                key = keys[(t * 7 + i) % len(keys)]
                payload = f"{folder}/{key}".encode()
                with config.override(cache=1, cache_dir=folder):
                    assert disk_cache.store(key, {"n": i}, payload, "text")
                    entry = disk_cache.load(key)
                assert entry is not None and entry.obj == payload and \
                    entry.path == os.path.join(folder, key + disk_cache.SUFFIX)
        except Exception as e:   # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[0]
    assert not any(t.is_alive() for t in threads)
    if fds_before is not None:   # at most the one held directory handle more
        assert len(os.listdir("/proc/self/fd")) <= fds_before + 1



def test_a_file_replaced_while_being_read_is_read_and_the_new_one_kept(tmp_path, monkeypatch):
    """Another store of the same key replaces the file between a load's open and its checks:
    the load reads the whole file it opened (now without a name: 0 links), and the fresh file
    stays. Refusing it as a hard-link trick removed the other writer's valid entry by name."""
    key = f"{7:064x}"
    checked = disk_cache._unsafe_file
    with config.override(cache=1, cache_dir=str(tmp_path)):
        assert disk_cache.store(key, {"n": 1}, b"first", "text")
        opened = os.open(tmp_path / (key + disk_cache.SUFFIX), os.O_RDONLY)   # the same file

        def replaced_meanwhile(st):
            monkeypatch.setattr(disk_cache, "_unsafe_file", checked)   # once
            assert disk_cache.store(key, {"n": 2}, b"second", "text")
            st = os.fstat(opened)
            assert st.st_nlink == 0
            return checked(st)

        monkeypatch.setattr(disk_cache, "_unsafe_file", replaced_meanwhile)
        rejected = disk_cache.stats.get("rejected", 0)
        try:
            entry = disk_cache.load(key)
        finally:
            os.close(opened)
        assert entry is not None and entry.obj == b"first"
        again = disk_cache.load(key)
        assert again is not None and again.obj == b"second"
        assert disk_cache.stats.get("rejected", 0) == rejected

# --- the files ----------------------------------------------------------------------------------

def _symlink_to_a_file_elsewhere(path):
    target = path.parent.parent / "elsewhere.jco"
    path.rename(target)
    path.symlink_to(target)


def _hard_link(path):
    os.link(path, path.parent.parent / "second-name.jco")


def _group_writable(path):
    os.chmod(path, 0o620)


def _world_writable(path):
    os.chmod(path, 0o602)


def _padded(path):
    with open(path, "ab") as fh:
        fh.write(b"\0" * 16)


def _header_claims_more_than_the_cap(path):
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, 44, 1 << 40)   # the payload length field
    path.write_bytes(bytes(data))


FILE_DAMAGE = [_symlink_to_a_file_elsewhere, _hard_link, _group_writable, _world_writable,
               _padded, _header_claims_more_than_the_cap]


@pytest.mark.parametrize("damage", FILE_DAMAGE, ids=lambda d: d.__name__.strip("_"))
def test_unsafe_cache_files_are_rejected_and_recompiled(cache_dir, llvm_runs, linked, capsys,
                                                        damage):
    path, _ = reload_after(damage, cache_dir, llvm_runs, capsys)
    assert not linked
    for other in ("elsewhere.jco", "second-name.jco"):   # only the cache's own name is removed
        if (cache_dir.parent / other).exists():
            disk_cache.decode((cache_dir.parent / other).read_bytes(), key_of(path))
    assert_replaced_by_a_good_file(path, llvm_runs)


def test_a_huge_sparse_file_is_rejected_without_reading_it(cache_dir, llvm_runs, capsys,
                                                            monkeypatch):
    read = []
    original = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: read.append(n) or original(fd, n))
    path, line = reload_after(lambda p: os.truncate(p, 256 << 20), cache_dir, llvm_runs,
                              capsys)
    assert "the header says" in line
    assert sum(read) < 1 << 20, f"read {sum(read)} bytes of a cache file"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a file to another user needs root")
def test_a_file_of_another_user_is_rejected(cache_dir, llvm_runs, linked, capsys):
    _, line = reload_after(lambda p: os.chown(p, 4321, -1), cache_dir, llvm_runs, capsys)
    assert "owned by uid 4321" in line and not linked


def test_a_fifo_in_place_of_a_cache_file_does_not_block(cache_dir, llvm_runs):
    fresh_call(f, X)
    (path,) = cache_files(cache_dir)
    path.unlink()
    os.mkfifo(path, 0o600)
    result = {}
    context = contextvars.copy_context()   # the cache settings of this thread
    worker = threading.Thread(
        target=context.run, args=(lambda: result.update(out=fresh_call(f, X)),), daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))   # let the stuck reader go
        worker.join(10)
        pytest.fail("opening a FIFO at a cache file's path blocked")
    np.testing.assert_allclose(result["out"], f_reference(X), rtol=1e-13)
    assert len(llvm_runs) == 2
    assert_replaced_by_a_good_file(path, llvm_runs)


# --- object code with a valid checksum ------------------------------------------------------------

def _section_headers(obj):
    """(e_shoff, [(name, type, flags, addr, offset, size, link, info, align, entsize)])."""
    (shoff,) = struct.unpack_from("<Q", obj, 0x28)
    (shnum,) = struct.unpack_from("<H", obj, 0x3C)
    return shoff, [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + 64 * i) for i in range(shnum)]


def _random_bytes(obj):
    return np.random.default_rng(7).bytes(len(obj))


def _truncated(obj):
    return obj[:len(obj) // 2]


def _section_past_the_end(obj):
    shoff, headers = _section_headers(obj)
    biggest = max((h[5], i) for i, h in enumerate(headers) if h[1] not in (0, 8))[1]
    out = bytearray(obj)
    struct.pack_into("<Q", out, shoff + 64 * biggest + 24, len(obj) + 4096)   # sh_offset
    return bytes(out)


def _section_table_past_the_end(obj):
    out = bytearray(obj)
    struct.pack_into("<Q", out, 0x28, len(obj) - 32)
    return bytes(out)


def _retarget_first_relocation(obj, symbol=None, kind=None):
    """`obj` with its first relocation's symbol index and/or type replaced."""
    _, headers = _section_headers(obj)
    offset = next(h[4] for h in headers if h[1] == 4 and h[5])   # the first RELA entry
    out = bytearray(obj)
    (info,) = struct.unpack_from("<Q", out, offset + 8)
    symbol = info >> 32 if symbol is None else symbol
    kind = info & 0xFFFFFFFF if kind is None else kind
    struct.pack_into("<Q", out, offset + 8, (symbol << 32) | kind)
    return bytes(out)


def _relocation_of_a_missing_symbol(obj):
    return _retarget_first_relocation(obj, symbol=0x7FFFFFFF)


def _relocation_naming_the_file_symbol(obj):
    _, headers = _section_headers(obj)
    symtab = next(h for h in headers if h[1] == 2)
    kinds = [obj[symtab[4] + 24 * i + 4] & 0xF for i in range(symtab[5] // 24)]
    return _retarget_first_relocation(obj, symbol=kinds.index(4))   # STT_FILE


def _relocation_of_32_bits(obj):
    return _retarget_first_relocation(obj, kind=10)   # R_X86_64_32: an address rarely fits


def object_importing(symbol):
    """Object code whose entry point seg0 calls `symbol`, which it leaves undefined."""
    text = f"""
        target triple = "{cpu.llvm.get_process_triple()}"
        declare i32 @{symbol}(i8*)
        define void @seg0(i8** %b, i8** %e, i64 %t, i64 %n, i64* %c) {{
          %r = call i32 @{symbol}(i8* null)
          ret void
        }}
        """
    return cpu.target_machine().emit_object(cpu.llvm.parse_assembly(text))


def _importing_system(obj):
    return object_importing("system")


def _importing_what_nothing_defines(obj):
    return object_importing("jitcore_defines_no_such_function")


BAD_OBJECTS = [_random_bytes, _truncated, _section_past_the_end, _section_table_past_the_end,
               _relocation_of_a_missing_symbol, _relocation_naming_the_file_symbol,
               _importing_system, _importing_what_nothing_defines]
if platform.machine().lower() in ("x86_64", "amd64"):
    BAD_OBJECTS.append(_relocation_of_32_bits)


def _with_object(damage):
    def rewrite(path):
        meta, obj, _ = disk_cache.decode(path.read_bytes(), key_of(path))
        assert meta["names"] == ["seg0"] and meta["imports"] == []
        repack(path, damage(obj))
    return rewrite


@pytest.mark.parametrize("damage", BAD_OBJECTS, ids=lambda d: d.__name__.strip("_"))
def test_bad_object_code_with_a_valid_checksum_is_refused(cache_dir, llvm_runs, never_linked,
                                                          capsys, damage):
    path, line = reload_after(_with_object(damage), cache_dir, llvm_runs, capsys)
    assert "object code refused" in line
    never_linked.clear()   # what replaced it is the backend's own code
    assert_replaced_by_a_good_file(path, llvm_runs)


def test_a_crafted_object_is_refused_only_for_its_import():
    allowed = object_check.cpu_imports()
    assert object_check.check_object(object_importing("tanh"), ["seg0"], allowed) == ["tanh"]
    with pytest.raises(object_check.BadObject, match="imports system"):
        object_check.check_object(object_importing("system"), ["seg0"], allowed)


def test_rejections_print_nothing_without_debug(cache_dir, never_linked, capsys):
    fresh_call(f, X)
    (path,) = cache_files(cache_dir)
    _with_object(_truncated)(path)
    capsys.readouterr()
    np.testing.assert_allclose(fresh_call(f, X), f_reference(X), rtol=1e-13)
    assert capsys.readouterr().out == ""


def run_damaged(damage, folder):
    """In a fresh cache at `folder`: compile f, `damage` its object code, call f afresh (for
    real: nothing stands between the cache and LLVM's linker). What happened, as JSON."""
    before = dict(disk_cache.stats)
    with config.override(cache=1, cache_dir=folder):
        fresh_call(f, X)
        (path,) = cache_files(pathlib.Path(folder))
        _with_object(damage)(path)
        out = fresh_call(f, X2)
    return {"correct": bool(np.allclose(out, f_reference(X2), rtol=1e-13)),
            "rejected": disk_cache.stats["rejected"] - before.get("rejected", 0)}


_CHILD = """
import json, sys
import tests.test_disk_cache_hardening as t
for damage in t.BAD_OBJECTS:
    print("linking", damage.__name__, flush=True)
    print(json.dumps([damage.__name__, t.run_damaged(damage, sys.argv[1] + damage.__name__)]))
"""


def test_bad_object_code_never_crashes_a_process(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path) + os.sep], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode} after:\n{proc.stdout}\n{proc.stderr}"
    results = dict(json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("["))
    assert sorted(results) == sorted(d.__name__ for d in BAD_OBJECTS)
    for name, r in results.items():
        assert r == {"correct": True, "rejected": 1}, (name, r)


# --- what the backend writes passes -------------------------------------------------------------

def _math(x):
    one = x * 0 + 1
    return (jnp.exp(x) + jnp.exp2(x) + jnp.expm1(x) + jnp.log(x) + jnp.log1p(x) + jnp.log2(x)
            + jnp.tanh(x) + jnp.sin(x) + jnp.cos(x) + jnp.tan(x) + jnp.arcsin(x / 2)
            + jnp.arccos(x / 2) + jnp.arctan(x) + jnp.sinh(x) + jnp.cosh(x) + jnp.arcsinh(x)
            + jnp.arccosh(x + 1) + jnp.arctanh(x / 2) + jnp.cbrt(x) + jnp.arctan2(x, one + x)
            + jnp.power(x, x) + jc.scipy.special.erf(x) + jc.nn.sigmoid(x) + jnp.floor(x * 3)
            + jnp.ceil(x * 3) + jnp.round(x * 3) + jnp.sqrt(x) + jnp.mod(x, 0.3))


def _math_reference(x):
    erf = np.vectorize(math.erf)
    return (np.exp(x) + np.exp2(x) + np.expm1(x) + np.log(x) + np.log1p(x) + np.log2(x)
            + np.tanh(x) + np.sin(x) + np.cos(x) + np.tan(x) + np.arcsin(x / 2)
            + np.arccos(x / 2) + np.arctan(x) + np.sinh(x) + np.cosh(x) + np.arcsinh(x)
            + np.arccosh(x + 1) + np.arctanh(x / 2) + np.cbrt(x) + np.arctan2(x, 1 + x)
            + np.power(x, x) + erf(x) + 1 / (1 + np.exp(-x)) + np.floor(x * 3)
            + np.ceil(x * 3) + np.round(x * 3) + np.sqrt(x) + np.mod(x, 0.3))


def _copy_and_half(x):
    return jnp.concatenate([x, x[::-1]]).astype(jnp.float16).astype(x.dtype)


@pytest.mark.parametrize("vector_math", [0, 1], ids=["vector_math", "libm"])
def test_objects_the_backend_writes_load_from_the_cache(cache_dir, llvm_runs, linked,
                                                        monkeypatch, vector_math):
    """Every math function (vectorized and from the C library), fmod, copies and half
    conversions: the imports of real object code are all allowed, so each loads."""
    monkeypatch.setattr(config.settings, "no_vector_math", vector_math)
    x = np.linspace(0.05, 0.95, 40)
    cases = [(_math, x, _math_reference(x), 1e-12), (_math, x.astype(np.float32),
                                                     _math_reference(x), 2e-5),
             (_copy_and_half, x, np.concatenate([x, x[::-1]]).astype(np.float16), 0)]
    first = [fresh_call(fn, arg) for fn, arg, _, _ in cases]
    runs = len(llvm_runs)
    for (fn, arg, want, rtol), out in zip(cases, first):
        np.testing.assert_allclose(out, want, rtol=rtol)
        np.testing.assert_array_equal(fresh_call(fn, arg), out)
    assert len(llvm_runs) == runs, "an object the backend wrote was refused"
    assert len(linked) == len(cases)
    imported = set()
    for path in cache_files(cache_dir):
        meta, obj, _ = disk_cache.decode(path.read_bytes(), key_of(path))
        imported |= set(object_check.check_object(obj, meta["names"],
                                                  object_check.cpu_imports()))
    assert "fmod" in imported or "fmodf" in imported


def test_aarch64_objects_pass_the_same_checks():
    """The checks on another host: AArch64 object code of the backend's code model (calls
    through stubs, addresses built 16 bits at a time) passes, and only for that machine."""
    llvm = cpu.llvm
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    try:
        target = llvm.Target.from_triple("aarch64-unknown-linux-gnu")
    except RuntimeError:
        pytest.skip("this LLVM has no AArch64 target")
    machine = target.create_target_machine(opt=2, reloc="default", codemodel="jitdefault")
    text = """
        target triple = "aarch64-unknown-linux-gnu"
        declare double @sin(double)
        define internal double @kernel(double %x) noinline {
          %s = call double @sin(double %x)
          %t = fmul double %s, 0x400921FB54442D18
          ret double %t
        }
        define void @seg0(double* %p) {
          %x = load double, double* %p
          %y = call double @kernel(double %x)
          store double %y, double* %p
          ret void
        }
        """
    obj = machine.emit_object(llvm.parse_assembly(text))
    allowed = object_check.cpu_imports()
    assert object_check.check_object(obj, ["seg0"], allowed,
                                     machine=object_check.EM_AARCH64) == ["sin"]
    with pytest.raises(object_check.BadObject, match="machine"):
        object_check.check_object(obj, ["seg0"], allowed, machine=object_check.EM_X86_64)
