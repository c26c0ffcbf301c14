/*
 * The native tier of arspec's fast engine (arspec.reference.vm.native_c).
 *
 * It runs the happy path of a program prepared by arspec/reference/vm/native.py: a packed
 * array of instructions whose opcodes the Python side chose per profile, and HANDOFF for
 * everything it leaves to Python. It stops *before* any instruction it cannot finish exactly
 * as the interpreter would (a HANDOFF entry, an access outside the memory windows, a
 * division the profile faults on, a budget that does not cover the instruction, a call deeper
 * than the frame limit, a saved frame that is not six machine words, a helper that is
 * neither light nor metered) with registers, pc, counters, frames and the live stack end
 * written back, so the interpreter's own step runs that instruction and produces the fault,
 * limit or result. A metered helper gets the machine's instruction and unit counters up to
 * date before the call (it charges through vm.consume), and the budget is read back after.
 *
 * Semantics are those of reference/vm/alu.py and reference/vm/vm.py (RFC 9669 sections 4 and
 * 5; the SBPFv0 choices of anza-xyz/sbpf src/interpreter.rs), restated for 64-bit machine
 * words; the tests run every conformance vector and generated programs on both tiers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the native tier reads and writes memory in host order: little-endian hosts only"
#endif

/* The opcodes, in the order native.py numbers them (it reads OPCODES). */
#define OPS(X) \
    X(HANDOFF) \
    X(ADD64) X(SUB64) X(MUL64) X(DIV64) X(SDIV64) X(MOD64) X(SMOD64) \
    X(OR64) X(AND64) X(XOR64) X(LSH64) X(RSH64) X(ARSH64) X(MOV64) \
    X(ADD32) X(SUB32) X(MUL32) X(DIV32) X(SDIV32) X(MOD32) X(SMOD32) \
    X(OR32) X(AND32) X(XOR32) X(LSH32) X(RSH32) X(ARSH32) X(MOV32) \
    X(ADD32SX) X(SUB32SX) X(MUL32SX) \
    X(NEG64) X(NEG32) X(MOVSX64) X(MOVSX32) X(LE) X(SWAP) \
    X(LDX) X(LDXS) X(STX) X(LDDW) X(JA) \
    X(JEQ64) X(JNE64) X(JGT64) X(JGE64) X(JLT64) X(JLE64) X(JSET64) \
    X(JSGT64) X(JSGE64) X(JSLT64) X(JSLE64) \
    X(JEQ32) X(JNE32) X(JGT32) X(JGE32) X(JLT32) X(JLE32) X(JSET32) \
    X(JSGT32) X(JSGE32) X(JSLT32) X(JSLE32) \
    X(CALL) X(CALL_LOCAL) X(EXIT) \
    X(AADD) X(AOR) X(AAND) X(AXOR) X(AXCHG) X(ACMPXCHG)

#define AS_ENUM(name) OP_##name,
enum { OPS(AS_ENUM) OP_COUNT };
#define AS_NAME(name) #name,
static const char *const op_names[] = { OPS(AS_NAME) };

/* One instruction: 16 bytes, packed by native.py with struct format "<BBBBiQ". */
typedef struct {
    uint8_t op;
    uint8_t dst;
    uint8_t src;   /* a register, or IMM_REG when the operand is imm */
    uint8_t size;  /* access bytes, sign-extension bits, byte-swap width */
    int32_t off;   /* memory offset, absolute jump or call target, helper site */
    uint64_t imm;  /* operand, lddw value */
} insn_t;

#define IMM_REG 11
/* Signal handlers (Ctrl-C) run every this many + 1 instructions. */
#define SIGNAL_EVERY ((1u << 22) - 1)
#define DIRECT 64
#define OVERFLOW 256
#define REGION_SHIFT 32
#define OFFSET_MASK 0xFFFFFFFFull

enum { KIND_NONE, KIND_PLAIN, KIND_GAPPED, KIND_FRAMED };

typedef struct {
    int kind;
    int writable;
    uint64_t index;
    uint8_t *ptr;
    uint64_t len;
    uint64_t param;    /* gap or frame size */
    Py_buffer view;
    int has_view;
} region_t;

typedef struct {
    region_t *direct[DIRECT];
    region_t regions[DIRECT + OVERFLOW];
    int count;
    uint64_t stack_top;
} memory_t;

typedef struct {
    uint64_t ret, r6, r7, r8, r9, r10;
} frame_t;

static PyObject *s_regs, *s_pc, *s_instructions, *s_units, *s_compute_limit, *s_frames,
    *s_base_depth, *s_stopped, *s_memory, *s_data, *s_gapped, *s_framed, *s_writable,
    *s_guards, *s_stack_top;

static void release_memory(memory_t *m) {
    for (int k = 0; k < m->count; k++) {
        if (m->regions[k].has_view) {
            PyBuffer_Release(&m->regions[k].view);
            m->regions[k].has_view = 0;
        }
    }
    m->count = 0;
}

/* Take one region's bytes; a region whose buffer cannot be taken gets no window. */
static int add_region(memory_t *m, uint64_t index, int kind, PyObject *data, int writable,
                      uint64_t param, PyObject *guarded) {
    if (m->count >= DIRECT + OVERFLOW) {
        return 0;
    }
    PyObject *key = PyLong_FromUnsignedLongLong(index);
    if (key == NULL) {
        return -1;
    }
    int hidden = PySet_Contains(guarded, key);
    Py_DECREF(key);
    if (hidden < 0) {
        return -1;
    }
    region_t *r = &m->regions[m->count];
    memset(r, 0, sizeof *r);
    r->index = index;
    r->kind = hidden ? KIND_NONE : kind;
    r->writable = writable;
    r->param = param;
    if (r->kind != KIND_NONE) {
        if (PyObject_GetBuffer(data, &r->view, writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            r->kind = KIND_NONE;
        } else {
            r->has_view = 1;
            r->ptr = (uint8_t *)r->view.buf;
            r->len = (uint64_t)r->view.len;
        }
    }
    if (index < DIRECT) {
        m->direct[index] = r;
    }
    m->count++;
    return 0;
}

static int add_dict(memory_t *m, PyObject *dict, int kind, PyObject *writable_set,
                    PyObject *guarded) {
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "memory region table is not a dict");
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        uint64_t index = PyLong_AsUnsignedLongLong(key);
        if (PyErr_Occurred()) {
            return -1;
        }
        if (index < DIRECT && m->direct[index] != NULL) {
            continue;  /* Memory looks in _data, then _gapped, then _framed */
        }
        PyObject *data = value;
        uint64_t param = 0;
        if (kind != KIND_PLAIN) {
            if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 2) {
                PyErr_SetString(PyExc_TypeError, "region entry is not (data, size)");
                return -1;
            }
            data = PyTuple_GET_ITEM(value, 0);
            param = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(value, 1));
            if (PyErr_Occurred()) {
                return -1;
            }
            if (param == 0 || (kind == KIND_GAPPED && (param & (param - 1)))) {
                continue;
            }
        }
        int writable = PySet_Contains(writable_set, key);
        if (writable < 0 || add_region(m, index, kind, data, writable, param, guarded) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Region indices that hold a guarded range: they get no window (Memory.window). */
static PyObject *guarded_indices(PyObject *guards, int *all) {
    PyObject *out = PySet_New(NULL);
    if (out == NULL) {
        return NULL;
    }
    if (!PyTuple_Check(guards)) {
        *all = 1;
        return out;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(guards); k++) {
        PyObject *g = PyTuple_GET_ITEM(guards, k);
        if (!PyTuple_Check(g) || PyTuple_GET_SIZE(g) < 2) {
            *all = 1;
            continue;
        }
        uint64_t low = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(g, 0));
        uint64_t high = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(g, 1));
        if (PyErr_Occurred()) {
            PyErr_Clear();
            *all = 1;
            continue;
        }
        if (high <= low) {
            continue;
        }
        uint64_t first = low >> REGION_SHIFT, last = (high - 1) >> REGION_SHIFT;
        if (last - first > 16) {
            *all = 1;
            continue;
        }
        for (uint64_t i = first; i <= last; i++) {
            PyObject *key = PyLong_FromUnsignedLongLong(i);
            if (key == NULL || PySet_Add(out, key) < 0) {
                Py_XDECREF(key);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(key);
        }
    }
    return out;
}

static int load_memory(memory_t *m, PyObject *memory) {
    memset(m->direct, 0, sizeof m->direct);
    m->count = 0;
    int ok = -1, all = 0;
    PyObject *data = NULL, *gapped = NULL, *framed = NULL, *writable = NULL, *guards = NULL,
             *top = NULL, *hidden = NULL;
    if ((data = PyObject_GetAttr(memory, s_data)) == NULL
            || (gapped = PyObject_GetAttr(memory, s_gapped)) == NULL
            || (framed = PyObject_GetAttr(memory, s_framed)) == NULL
            || (writable = PyObject_GetAttr(memory, s_writable)) == NULL
            || (guards = PyObject_GetAttr(memory, s_guards)) == NULL
            || (top = PyObject_GetAttr(memory, s_stack_top)) == NULL) {
        goto done;
    }
    m->stack_top = PyLong_AsUnsignedLongLong(top);
    if (PyErr_Occurred()) {
        goto done;
    }
    if (!PySet_Check(writable) && !PyFrozenSet_Check(writable)) {
        PyErr_SetString(PyExc_TypeError, "memory._writable is not a set");
        goto done;
    }
    if ((hidden = guarded_indices(guards, &all)) == NULL) {
        goto done;
    }
    if (all) {
        ok = 0;  /* no windows at all: every access goes to Python */
        goto done;
    }
    if (add_dict(m, data, KIND_PLAIN, writable, hidden) < 0
            || add_dict(m, gapped, KIND_GAPPED, writable, hidden) < 0
            || add_dict(m, framed, KIND_FRAMED, writable, hidden) < 0) {
        goto done;
    }
    ok = 0;
done:
    Py_XDECREF(data);
    Py_XDECREF(gapped);
    Py_XDECREF(framed);
    Py_XDECREF(writable);
    Py_XDECREF(guards);
    Py_XDECREF(top);
    Py_XDECREF(hidden);
    if (ok < 0) {
        release_memory(m);
    }
    return ok;
}

static inline region_t *find_region(memory_t *m, uint64_t index) {
    if (index < DIRECT) {
        return m->direct[index];
    }
    for (int k = 0; k < m->count; k++) {
        if (m->regions[k].index == index) {
            return &m->regions[k];
        }
    }
    return NULL;
}

/* The host bytes of a valid access, or NULL: the same tests as Memory.load/store. */
static inline uint8_t *place_of(memory_t *m, uint64_t address, uint64_t size, int write) {
    region_t *r = find_region(m, address >> REGION_SHIFT);
    if (r == NULL) {
        return NULL;
    }
    uint64_t offset = address & OFFSET_MASK;
    switch (r->kind) {
    case KIND_PLAIN:
        if (offset + size > r->len || (write && !r->writable)) {
            return NULL;
        }
        return r->ptr + offset;
    case KIND_GAPPED: {
        uint64_t gap = r->param;
        if (offset & gap) {
            return NULL;
        }
        uint64_t host = ((offset & ~(2 * gap - 1)) >> 1) | (offset & (gap - 1));
        if (host + size > r->len) {
            return NULL;
        }
        return r->ptr + host;
    }
    case KIND_FRAMED: {
        uint64_t frame = r->param, end = offset + size;
        if (end > m->stack_top || end > r->len || offset / frame != (end - 1) / frame) {
            return NULL;
        }
        return r->ptr + offset;
    }
    default:
        return NULL;
    }
}

static inline uint64_t read_le(const uint8_t *p, unsigned size) {
    switch (size) {
    case 1: return p[0];
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static inline void write_le(uint8_t *p, unsigned size, uint64_t value) {
    switch (size) {
    case 1: p[0] = (uint8_t)value; break;
    case 2: { uint16_t v = (uint16_t)value; memcpy(p, &v, 2); break; }
    case 4: { uint32_t v = (uint32_t)value; memcpy(p, &v, 4); break; }
    default: memcpy(p, &value, 8); break;
    }
}

static inline uint64_t sext(uint64_t value, unsigned bits) {
    switch (bits) {
    case 8: return (uint64_t)(int64_t)(int8_t)value;
    case 16: return (uint64_t)(int64_t)(int16_t)value;
    case 32: return (uint64_t)(int64_t)(int32_t)value;
    default: return value;
    }
}

static inline uint64_t swap(uint64_t value, unsigned width) {
    switch (width) {
    case 16: return __builtin_bswap16((uint16_t)value);
    case 32: return __builtin_bswap32((uint32_t)value);
    default: return __builtin_bswap64(value);
    }
}

static inline uint64_t low_bits(uint64_t value, unsigned width) {
    return width >= 64 ? value : value & ((1ull << width) - 1);
}

static int set_attr_u64(PyObject *obj, PyObject *name, uint64_t value) {
    PyObject *v = PyLong_FromUnsignedLongLong(value);
    if (v == NULL) {
        return -1;
    }
    int rc = PyObject_SetAttr(obj, name, v);
    Py_DECREF(v);
    return rc;
}

static int add_attr(PyObject *obj, PyObject *name, uint64_t delta) {
    if (delta == 0) {
        return 0;
    }
    PyObject *old = PyObject_GetAttr(obj, name);
    if (old == NULL) {
        return -1;
    }
    PyObject *d = PyLong_FromUnsignedLongLong(delta);
    PyObject *sum = d == NULL ? NULL : PyNumber_Add(old, d);
    Py_DECREF(old);
    Py_XDECREF(d);
    if (sum == NULL) {
        return -1;
    }
    int rc = PyObject_SetAttr(obj, name, sum);
    Py_DECREF(sum);
    return rc;
}

/* Write the state back to the machine; keeps a pending exception (a helper's fault). */
static int write_back(PyObject *vm, PyObject *regs_list, PyObject *memory, const uint64_t *r,
                uint64_t pc, uint64_t ran, uint64_t units, const frame_t *frames, int depth,
                int frames_moved, uint64_t stack_top, int stopped) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    int rc = 0;
    for (Py_ssize_t k = 0; k < 11 && rc == 0; k++) {
        PyObject *v = PyLong_FromUnsignedLongLong(r[k]);
        if (v == NULL) {
            rc = -1;
        } else {
            rc = PyList_SetItem(regs_list, k, v);  /* steals v, drops the old value */
        }
    }
    if (rc == 0 && (set_attr_u64(vm, s_pc, pc) < 0 || add_attr(vm, s_instructions, ran) < 0
                    || add_attr(vm, s_units, units) < 0)) {
        rc = -1;
    }
    if (rc == 0 && depth > 0) {
        PyObject *list = PyObject_GetAttr(vm, s_frames);
        if (list == NULL) {
            rc = -1;
        }
        for (int k = 0; k < depth && rc == 0; k++) {
            const frame_t *f = &frames[k];
            PyObject *t = Py_BuildValue("(KKKKKK)", (unsigned long long)f->ret,
                                        (unsigned long long)f->r6, (unsigned long long)f->r7,
                                        (unsigned long long)f->r8, (unsigned long long)f->r9,
                                        (unsigned long long)f->r10);
            if (t == NULL || PyList_Append(list, t) < 0) {
                rc = -1;
            }
            Py_XDECREF(t);
        }
        Py_XDECREF(list);
    }
    if (rc == 0 && frames_moved && set_attr_u64(memory, s_stack_top, stack_top) < 0) {
        rc = -1;
    }
    if (rc == 0 && stopped && PyObject_SetAttr(vm, s_stopped, Py_True) < 0) {
        rc = -1;
    }
    if (type != NULL) {
        if (rc < 0) {
            PyErr_Clear();
        }
        PyErr_Restore(type, value, tb);
        return -1;
    }
    return rc;
}

/* Pop the last of the machine's saved frames into pc, r6-r10; -1 (nothing changed, no
   exception) when it is not six machine words. */
static int pop_frame(PyObject *list, uint64_t *r, uint64_t *pc) {
    Py_ssize_t n = PyList_GET_SIZE(list);
    if (n < 1) {
        return -1;
    }
    PyObject *t = PyList_GET_ITEM(list, n - 1);
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 6) {
        return -1;
    }
    uint64_t v[6];
    for (int k = 0; k < 6; k++) {
        v[k] = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(t, k));
    }
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    if (PyList_SetSlice(list, n - 1, n, NULL) < 0) {
        PyErr_Clear();
        return -1;
    }
    *pc = v[0];
    for (int k = 1; k < 6; k++) {
        r[5 + k] = v[k];
    }
    return 0;
}

static int get_u64(PyObject *obj, PyObject *name, uint64_t *out) {
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL) {
        return -1;
    }
    *out = PyLong_AsUnsignedLongLong(v);
    Py_DECREF(v);
    return PyErr_Occurred() ? -1 : 0;
}

/* The budget left in units, clamped to int64 (a limit beyond it is never reached here). */
static int budget_left(PyObject *vm, int64_t *left) {
    PyObject *limit = PyObject_GetAttr(vm, s_compute_limit);
    PyObject *units = limit == NULL ? NULL : PyObject_GetAttr(vm, s_units);
    PyObject *diff = units == NULL ? NULL : PyNumber_Subtract(limit, units);
    Py_XDECREF(limit);
    Py_XDECREF(units);
    if (diff == NULL) {
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(diff, &overflow);
    Py_DECREF(diff);
    if (PyErr_Occurred()) {
        return -1;
    }
    *left = overflow > 0 ? INT64_MAX : overflow < 0 ? -1 : (int64_t)v;
    return 0;
}

PyDoc_STRVAR(run_doc,
"run(vm, code, sites, params, windows) -> int\n\n"
"Run vm from its pc over the prepared code until the base frame exits or an instruction\n"
"is left to Python; return the instructions run here.");

static PyObject *run(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "run() takes 5 arguments");
        return NULL;
    }
    PyObject *vm = args[0], *code_obj = args[1], *sites = args[2], *params = args[3];
    int windows = PyObject_IsTrue(args[4]);
    if (windows < 0) {
        return NULL;
    }
    if (!PyBytes_Check(code_obj) || !PyTuple_Check(sites) || !PyTuple_Check(params)
            || PyTuple_GET_SIZE(params) != 5) {
        PyErr_SetString(PyExc_TypeError, "run(vm, bytes, tuple, (5 ints), bool)");
        return NULL;
    }
    unsigned long long p[5];
    for (int k = 0; k < 5; k++) {
        p[k] = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(params, k));
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    const int64_t cost = (int64_t)p[0];
    const uint64_t stride = p[1], stack_base = p[3];
    const int max_saved = (int)p[2], division_faults = (int)p[4];
    const insn_t *code = (const insn_t *)PyBytes_AS_STRING(code_obj);
    const uint64_t ncode = (uint64_t)PyBytes_GET_SIZE(code_obj) / sizeof(insn_t);
    const Py_ssize_t nsites = PyTuple_GET_SIZE(sites);

    uint64_t r[12], pc, nframes, base_depth;
    int64_t left;
    PyObject *regs_list = PyObject_GetAttr(vm, s_regs);
    if (regs_list == NULL) {
        return NULL;
    }
    if (!PyList_CheckExact(regs_list) || PyList_GET_SIZE(regs_list) != 11) {
        Py_DECREF(regs_list);
        PyErr_SetString(PyExc_TypeError, "vm.regs is not a list of 11 registers");
        return NULL;
    }
    for (int k = 0; k < 11; k++) {
        r[k] = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(regs_list, k));
    }
    r[IMM_REG] = 0;
    if (PyErr_Occurred() && (PyErr_ExceptionMatches(PyExc_OverflowError)
                             || PyErr_ExceptionMatches(PyExc_ValueError))) {
        /* A register outside 0..2**64-1 (set by some helper): Python runs the step. */
        PyErr_Clear();
        Py_DECREF(regs_list);
        return PyLong_FromLong(0);
    }
    PyObject *frames_list = PyErr_Occurred() ? NULL : PyObject_GetAttr(vm, s_frames);
    if (frames_list == NULL || !PyList_Check(frames_list)) {
        Py_XDECREF(frames_list);
        Py_DECREF(regs_list);
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "vm.frames is not a list");
        }
        return NULL;
    }
    nframes = (uint64_t)PyList_GET_SIZE(frames_list);
    if (get_u64(vm, s_pc, &pc) < 0 || get_u64(vm, s_base_depth, &base_depth) < 0
            || budget_left(vm, &left) < 0) {
        Py_DECREF(regs_list);
        Py_DECREF(frames_list);
        if (PyErr_ExceptionMatches(PyExc_OverflowError)
                || PyErr_ExceptionMatches(PyExc_ValueError)
                || PyErr_ExceptionMatches(PyExc_TypeError)) {
            /* A pc, depth or budget that is not a machine word: the interpreter's step. */
            PyErr_Clear();
            return PyLong_FromLong(0);
        }
        return NULL;
    }
    PyObject *memory = PyObject_GetAttr(vm, s_memory);
    if (memory == NULL) {
        Py_DECREF(regs_list);
        Py_DECREF(frames_list);
        return NULL;
    }
    memory_t *m = PyMem_Malloc(sizeof(memory_t));
    frame_t *frames = PyMem_Malloc(sizeof(frame_t) * (size_t)(max_saved > 0 ? max_saved : 1));
    if (m == NULL || frames == NULL) {
        PyMem_Free(m);
        PyMem_Free(frames);
        Py_DECREF(memory);
        Py_DECREF(regs_list);
        Py_DECREF(frames_list);
        return PyErr_NoMemory();
    }
    memset(m->direct, 0, sizeof m->direct);
    m->count = 0;
    if (windows) {
        if (load_memory(m, memory) < 0) {
            PyMem_Free(m);
            PyMem_Free(frames);
            Py_DECREF(memory);
            Py_DECREF(regs_list);
            Py_DECREF(frames_list);
            return NULL;
        }
    } else if (get_u64(memory, s_stack_top, &m->stack_top) < 0) {
        PyMem_Free(m);
        PyMem_Free(frames);
        Py_DECREF(memory);
        Py_DECREF(regs_list);
        Py_DECREF(frames_list);
        return NULL;
    }

    /* ran: instructions run here; flushed: those already added to vm.instructions (before a
       metered helper), whose units are then added to vm.units and not held in units. */
    uint64_t ran = 0, flushed = 0, units = 0;
    int depth = 0, frames_moved = 0, stopped = 0, failed = 0;
    if (pc >= ncode) {
        goto leave;
    }
    for (;;) {
        const insn_t *i = &code[pc];
        if (left < cost) {
            goto leave;
        }
        uint64_t a = r[i->dst], b;
        r[IMM_REG] = i->imm;
        b = r[i->src];
        switch (i->op) {
#define ALU(name, expr) case OP_##name: r[i->dst] = (expr); pc++; break;
        ALU(ADD64, a + b)
        ALU(SUB64, a - b)
        ALU(MUL64, a * b)
        ALU(OR64, a | b)
        ALU(AND64, a & b)
        ALU(XOR64, a ^ b)
        ALU(LSH64, a << (b & 63))
        ALU(RSH64, a >> (b & 63))
        ALU(ARSH64, (uint64_t)((int64_t)a >> (b & 63)))
        ALU(MOV64, b)
        ALU(ADD32, (uint32_t)(a + b))
        ALU(SUB32, (uint32_t)(a - b))
        ALU(MUL32, (uint32_t)((uint32_t)a * (uint32_t)b))
        ALU(OR32, (uint32_t)(a | b))
        ALU(AND32, (uint32_t)(a & b))
        ALU(XOR32, (uint32_t)(a ^ b))
        ALU(LSH32, (uint32_t)((uint32_t)a << (b & 31)))
        ALU(RSH32, (uint32_t)a >> (b & 31))
        ALU(ARSH32, (uint32_t)((int32_t)(uint32_t)a >> (b & 31)))
        ALU(MOV32, (uint32_t)b)
        ALU(ADD32SX, sext((uint32_t)(a + b), 32))
        ALU(SUB32SX, sext((uint32_t)(a - b), 32))
        ALU(MUL32SX, sext((uint32_t)((uint32_t)a * (uint32_t)b), 32))
        ALU(NEG64, 0 - a)
        ALU(NEG32, (uint32_t)(0 - a))
        ALU(MOVSX64, sext(b, i->size))
        ALU(MOVSX32, (uint32_t)sext(b, i->size))
        ALU(LE, low_bits(a, i->size))
        ALU(SWAP, swap(a, i->size))
#undef ALU
        case OP_DIV64:
        case OP_MOD64:
            if (b == 0) {
                if (division_faults) goto leave;
                r[i->dst] = i->op == OP_DIV64 ? 0 : a;
            } else {
                r[i->dst] = i->op == OP_DIV64 ? a / b : a % b;
            }
            pc++;
            break;
        case OP_SDIV64:
        case OP_SMOD64:
            if (b == 0) {
                if (division_faults) goto leave;
                r[i->dst] = i->op == OP_SDIV64 ? 0 : a;
            } else if (a == (1ull << 63) && b == UINT64_MAX) {
                if (division_faults) goto leave;
                r[i->dst] = i->op == OP_SDIV64 ? a : 0;
            } else {
                r[i->dst] = i->op == OP_SDIV64 ? (uint64_t)((int64_t)a / (int64_t)b)
                                               : (uint64_t)((int64_t)a % (int64_t)b);
            }
            pc++;
            break;
        case OP_DIV32:
        case OP_MOD32: {
            uint32_t x = (uint32_t)a, y = (uint32_t)b;
            if (y == 0) {
                if (division_faults) goto leave;
                r[i->dst] = i->op == OP_DIV32 ? 0 : x;
            } else {
                r[i->dst] = i->op == OP_DIV32 ? x / y : x % y;
            }
            pc++;
            break;
        }
        case OP_SDIV32:
        case OP_SMOD32: {
            uint32_t x = (uint32_t)a, y = (uint32_t)b;
            if (y == 0) {
                if (division_faults) goto leave;
                r[i->dst] = i->op == OP_SDIV32 ? 0 : x;
            } else if (x == 0x80000000u && y == 0xFFFFFFFFu) {
                if (division_faults) goto leave;
                r[i->dst] = i->op == OP_SDIV32 ? x : 0;
            } else {
                r[i->dst] = i->op == OP_SDIV32 ? (uint32_t)((int32_t)x / (int32_t)y)
                                               : (uint32_t)((int32_t)x % (int32_t)y);
            }
            pc++;
            break;
        }
        case OP_LDX:
        case OP_LDXS: {
            uint8_t *place = place_of(m, r[i->src] + (uint64_t)(int64_t)i->off, i->size, 0);
            if (place == NULL) goto leave;
            uint64_t v = read_le(place, i->size);
            r[i->dst] = i->op == OP_LDXS ? sext(v, 8u * i->size) : v;
            pc++;
            break;
        }
        case OP_STX: {
            uint8_t *place = place_of(m, a + (uint64_t)(int64_t)i->off, i->size, 1);
            if (place == NULL) goto leave;
            write_le(place, i->size, b);
            pc++;
            break;
        }
        case OP_AADD:
        case OP_AOR:
        case OP_AAND:
        case OP_AXOR:
        case OP_AXCHG:
        case OP_ACMPXCHG: {
            /* Vm._atomic: a load then a store at dst + off (cmpxchg always writes). */
            uint8_t *place = place_of(m, a + (uint64_t)(int64_t)i->off, i->size, 1);
            if (place == NULL) goto leave;
            uint64_t old = read_le(place, i->size), value;
            uint64_t mask = i->size == 8 ? UINT64_MAX : 0xFFFFFFFFull;
            switch (i->op) {
            case OP_AADD: value = old + b; break;
            case OP_AOR: value = old | b; break;
            case OP_AAND: value = old & b; break;
            case OP_AXOR: value = old ^ b; break;
            case OP_AXCHG: value = b; break;
            default: value = old == (r[0] & mask) ? b : old; break;
            }
            write_le(place, i->size, value & mask);
            if (i->op == OP_ACMPXCHG) {
                r[0] = old;
            } else if (i->imm) {
                r[i->src] = old;
            }
            pc++;
            break;
        }
        case OP_LDDW:
            r[i->dst] = i->imm;
            pc += 2;
            break;
        case OP_JA:
            pc = (uint64_t)i->off;
            break;
#define JUMP(name, cond) case OP_##name: pc = (cond) ? (uint64_t)i->off : pc + 1; break;
        JUMP(JEQ64, a == b)
        JUMP(JNE64, a != b)
        JUMP(JGT64, a > b)
        JUMP(JGE64, a >= b)
        JUMP(JLT64, a < b)
        JUMP(JLE64, a <= b)
        JUMP(JSET64, (a & b) != 0)
        JUMP(JSGT64, (int64_t)a > (int64_t)b)
        JUMP(JSGE64, (int64_t)a >= (int64_t)b)
        JUMP(JSLT64, (int64_t)a < (int64_t)b)
        JUMP(JSLE64, (int64_t)a <= (int64_t)b)
        JUMP(JEQ32, (uint32_t)a == (uint32_t)b)
        JUMP(JNE32, (uint32_t)a != (uint32_t)b)
        JUMP(JGT32, (uint32_t)a > (uint32_t)b)
        JUMP(JGE32, (uint32_t)a >= (uint32_t)b)
        JUMP(JLT32, (uint32_t)a < (uint32_t)b)
        JUMP(JLE32, (uint32_t)a <= (uint32_t)b)
        JUMP(JSET32, ((uint32_t)a & (uint32_t)b) != 0)
        JUMP(JSGT32, (int32_t)a > (int32_t)b)
        JUMP(JSGE32, (int32_t)a >= (int32_t)b)
        JUMP(JSLT32, (int32_t)a < (int32_t)b)
        JUMP(JSLE32, (int32_t)a <= (int32_t)b)
#undef JUMP
        case OP_CALL: {
            if (i->off < 0 || i->off >= nsites) goto leave;
            PyObject *site = PyTuple_GET_ITEM(sites, i->off);
            if (!PyTuple_Check(site) || PyTuple_GET_SIZE(site) != 4) goto leave;
            int64_t extra = (int64_t)PyLong_AsLongLong(PyTuple_GET_ITEM(site, 2));
            if (extra < 0 || left - cost < extra) {
                PyErr_Clear();
                goto leave;
            }
            const int metered = PyTuple_GET_ITEM(site, 3) == Py_True;
            /* The call starts: counted and charged, as Vm.step and Vm.consume do. */
            left -= cost + extra;
            ran++;
            units += (uint64_t)(cost + extra);
            if (metered) {
                /* It charges through vm.consume: the machine's counters must be up to date
                   (as the interpreter's are inside a helper); the budget is read back after. */
                if (add_attr(vm, s_instructions, ran - flushed) < 0
                        || add_attr(vm, s_units, units) < 0) {
                    failed = 1;
                    goto leave;
                }
                flushed = ran;
                units = 0;
            }
            PyObject *argv[6];
            argv[0] = PyTuple_GET_ITEM(site, 1);
            int made = 0;
            for (; made < 5; made++) {
                argv[made + 1] = PyLong_FromUnsignedLongLong(r[made + 1]);
                if (argv[made + 1] == NULL) break;
            }
            PyObject *res = made == 5
                ? PyObject_Vectorcall(PyTuple_GET_ITEM(site, 0), argv, 6, NULL) : NULL;
            for (int k = 0; k < made; k++) {
                Py_DECREF(argv[k + 1]);
            }
            uint64_t value = 0;
            if (res != NULL) {
                value = PyLong_AsUnsignedLongLongMask(res);
                Py_DECREF(res);
            }
            if (res == NULL || PyErr_Occurred()) {
                failed = 1;  /* the helper's fault, at the call's pc */
                goto leave;
            }
            if (metered && budget_left(vm, &left) < 0) {
                failed = 1;
                goto leave;
            }
            r[0] = value;
            pc++;
            continue;  /* counted above */
        }
        case OP_CALL_LOCAL:
            if (nframes + (uint64_t)depth >= (uint64_t)max_saved) goto leave;
            frames[depth] = (frame_t){pc + 1, r[6], r[7], r[8], r[9], r[10]};
            depth++;
            r[10] += stride;
            m->stack_top = r[10] - stack_base;
            frames_moved = 1;
            pc = (uint64_t)i->off;
            break;
        case OP_EXIT:
            if (depth > 0) {
                depth--;
                const frame_t *f = &frames[depth];
                pc = f->ret;
                r[6] = f->r6; r[7] = f->r7; r[8] = f->r8; r[9] = f->r9; r[10] = f->r10;
                m->stack_top = r[10] - stack_base;
                frames_moved = 1;
                break;
            }
            if (nframes > base_depth) {
                /* Return into a frame Python pushed: Vm.pop_frame. */
                if (pop_frame(frames_list, r, &pc) < 0) goto leave;
                nframes--;
                m->stack_top = r[10] - stack_base;
                frames_moved = 1;
                break;
            }
            if (nframes != base_depth) goto leave;
            stopped = 1;
            ran++;
            units += (uint64_t)cost;
            goto leave;
        default:  /* HANDOFF */
            goto leave;
        }
        left -= cost;
        ran++;
        units += (uint64_t)cost;
        if (pc >= ncode) {
            goto leave;
        }
        if ((ran & SIGNAL_EVERY) == 0 && PyErr_CheckSignals() < 0) {
            failed = 1;  /* Ctrl-C: the state is whole, the exception propagates */
            goto leave;
        }
    }
leave:
    release_memory(m);
    int rc = write_back(vm, regs_list, memory, r, pc, ran - flushed, units, frames, depth, frames_moved,
                  m->stack_top, stopped);
    PyMem_Free(m);
    PyMem_Free(frames);
    Py_DECREF(memory);
    Py_DECREF(regs_list);
    Py_DECREF(frames_list);
    if (failed || rc < 0) {
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(ran);
}

static PyMethodDef methods[] = {
    {"run", (PyCFunction)(void (*)(void))run, METH_FASTCALL, run_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "native_c",
    "The native tier of the fast engine (see arspec.reference.vm.native).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_native_c(void) {
#define INTERN(name) if ((s_##name = PyUnicode_InternFromString(#name)) == NULL) return NULL;
    INTERN(regs) INTERN(pc) INTERN(instructions) INTERN(units) INTERN(compute_limit)
    INTERN(frames) INTERN(base_depth) INTERN(stopped) INTERN(memory) INTERN(guards)
    INTERN(stack_top)
#undef INTERN
    if ((s_data = PyUnicode_InternFromString("_data")) == NULL
            || (s_gapped = PyUnicode_InternFromString("_gapped")) == NULL
            || (s_framed = PyUnicode_InternFromString("_framed")) == NULL
            || (s_writable = PyUnicode_InternFromString("_writable")) == NULL) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    PyObject *names = PyTuple_New(OP_COUNT);
    if (names == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    for (int k = 0; k < OP_COUNT; k++) {
        PyObject *s = PyUnicode_FromString(op_names[k]);
        if (s == NULL) {
            Py_DECREF(names);
            Py_DECREF(m);
            return NULL;
        }
        PyTuple_SET_ITEM(names, k, s);
    }
    if (PyModule_AddObject(m, "OPCODES", names) < 0
            || PyModule_AddIntConstant(m, "INSN_SIZE", (long)sizeof(insn_t)) < 0
            || PyModule_AddIntConstant(m, "IMM_REG", IMM_REG) < 0) {
        Py_DECREF(names);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
