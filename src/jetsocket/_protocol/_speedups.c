/*
 * jetsocket._protocol._speedups: the compiled front of FrameReader.feed (RFC 6455 section 5).
 *
 * scan() parses, from `pos`, the run of *common* frames of a read chunk: complete,
 * unfragmented (FIN set), uncompressed (no RSV bit) text (0x81) or binary (0x82) frames from
 * the server (MASK clear, RFC 6455 section 5.1), with a 7-, 16- or 64-bit length (section
 * 5.2), no larger than max_size, whose text payload is valid UTF-8 (sections 5.6 and 8.1).
 * It appends each message to `out` (text as str, or as the UTF-8 bytes when text_as_str is
 * false; binary as bytes) and returns the offset of the first byte it did not consume.
 *
 * It never raises for bad input and never decides anything: at the first frame that is not
 * common -- control frames, fragments, compressed frames, RSV bits, unknown opcodes, masked
 * frames, a 64-bit length with the most significant bit set, a frame larger than max_size,
 * invalid UTF-8, an incomplete frame -- it stops, and the pure-Python loop of
 * jetsocket/_protocol/_reader.py takes over at that offset, re-checks the frame and raises
 * the same errors as when it runs alone. So both paths behave identically by construction:
 * this file only ever does, faster, what the Python loop would have done for the same
 * frame. UTF-8 is decoded by CPython's own strict decoder (the one bytes.decode() uses).
 *
 * The build hook (hatch_build.py) defines JETSOCKET_SOURCE_HASH as the SHA-256 of this
 * file; _reader.py compares it with the file on disk at import and ignores a stale build.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#ifndef JETSOCKET_SOURCE_HASH
#define JETSOCKET_SOURCE_HASH ""
#endif

/* Bumped whenever a function's signature or contract changes; _reader.py checks it.
 * 2: take_batch() added. */
#define JETSOCKET_SCAN_API 2

/* True when every byte of p[0:len] is ASCII (< 0x80): such a payload is valid UTF-8. */
static int
is_ascii(const unsigned char *p, Py_ssize_t len)
{
    const unsigned char *end = p + len;
    while (p + 8 <= end) {
        uint64_t word;
        memcpy(&word, p, 8);
        if (word & UINT64_C(0x8080808080808080)) {
            return 0;
        }
        p += 8;
    }
    while (p < end) {
        if (*p++ & 0x80) {
            return 0;
        }
    }
    return 1;
}

/* Decode UTF-8 strictly; NULL with no exception set when the bytes are not valid UTF-8
   (the Python loop reports that), NULL with an exception for anything else (memory). */
static PyObject *
decode_utf8(const char *p, Py_ssize_t len)
{
    PyObject *text = PyUnicode_DecodeUTF8(p, len, NULL);
    if (text == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
    }
    return text;
}

PyDoc_STRVAR(scan_doc,
"scan(buf, pos, out, text_as_str, max_size, /) -> int\n"
"\n"
"Append to ``out`` the messages of the complete, unfragmented, uncompressed text/binary\n"
"frames of ``buf`` from ``pos``; return the offset of the first frame not consumed.");

static PyObject *
scan(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_Format(PyExc_TypeError, "scan() takes 5 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *buf = args[0];
    PyObject *out = args[2];
    if (!PyBytes_CheckExact(buf)) {
        PyErr_SetString(PyExc_TypeError, "scan(): buf must be bytes");
        return NULL;
    }
    if (!PyList_CheckExact(out)) {
        PyErr_SetString(PyExc_TypeError, "scan(): out must be a list");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    int text_as_str = PyObject_IsTrue(args[3]);
    if (text_as_str < 0) {
        return NULL;
    }
    long long max_size_ll = PyLong_AsLongLong(args[4]);
    if (max_size_ll == -1 && PyErr_Occurred()) {
        return NULL;
    }
    const uint64_t max_size = max_size_ll < 0 ? 0 : (uint64_t)max_size_ll;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(buf);
    const Py_ssize_t n = PyBytes_GET_SIZE(buf);
    if (pos < 0 || pos > n) {
        PyErr_SetString(PyExc_ValueError, "scan(): pos out of range");
        return NULL;
    }

    while (n - pos >= 2) {
        const unsigned int b0 = p[pos];
        const unsigned int b1 = p[pos + 1];
        /* FIN=1, RSV=0, opcode 1 (text) or 2 (binary): anything else is the slow path. */
        if (b0 != 0x81 && b0 != 0x82) {
            break;
        }
        Py_ssize_t start;
        uint64_t length;
        if (b1 < 126) { /* also proves MASK=0 */
            start = pos + 2;
            length = b1;
        }
        else if (b1 == 126) {
            if (n - pos < 4) {
                break;
            }
            start = pos + 4;
            length = ((uint64_t)p[pos + 2] << 8) | p[pos + 3];
        }
        else if (b1 == 127) {
            if (n - pos < 10) {
                break;
            }
            length = 0;
            for (int i = 2; i < 10; i++) {
                length = (length << 8) | p[pos + i];
            }
            if (length >> 63) {
                break; /* RFC 6455 section 5.2: a 1002 the Python loop reports */
            }
            start = pos + 10;
        }
        else {
            break; /* masked frame from the server (section 5.1): 1002 in Python */
        }
        if (length > max_size) {
            break; /* 1009, reported by the Python loop */
        }
        if (length > (uint64_t)(n - start)) {
            break; /* incomplete: the Python loop buffers it */
        }
        const Py_ssize_t len = (Py_ssize_t)length;
        const char *payload = (const char *)p + start;
        PyObject *item;
        if (b0 == 0x82) {
            item = PyBytes_FromStringAndSize(payload, len);
        }
        else if (text_as_str) {
            item = decode_utf8(payload, len);
            if (item == NULL && !PyErr_Occurred()) {
                break; /* invalid UTF-8: 1007 from the Python loop */
            }
        }
        else {
            if (!is_ascii((const unsigned char *)payload, len)) {
                PyObject *check = decode_utf8(payload, len);
                if (check == NULL) {
                    if (PyErr_Occurred()) {
                        return NULL;
                    }
                    break;
                }
                Py_DECREF(check);
            }
            item = PyBytes_FromStringAndSize(payload, len);
        }
        if (item == NULL) {
            return NULL;
        }
        int failed = PyList_Append(out, item);
        Py_DECREF(item);
        if (failed) {
            return NULL;
        }
        pos = start + len;
    }
    return PyLong_FromSsize_t(pos);
}

PyDoc_STRVAR(take_batch_doc,
"take_batch(items, marker_type, /) -> list\n\n"
"Pop every item of the deque `items` that comes before the first one whose type is\n"
"exactly `marker_type` (a stored failure), and return them as a list; that item and\n"
"the ones after it stay in the deque. Atomic for other threads (no Python code runs\n"
"in between): the same result as popping one item at a time, at C speed.");

static PyObject *
take_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "take_batch() takes exactly 2 arguments");
        return NULL;
    }
    PyObject *items = args[0];
    PyObject *marker = args[1];
    PyObject *batch = NULL;
    PyObject *result = NULL;
#ifdef Py_GIL_DISABLED
    Py_BEGIN_CRITICAL_SECTION(items);
#endif
    batch = PySequence_List(items);
    if (batch == NULL) {
        goto done;
    }
    Py_ssize_t n = PyList_GET_SIZE(batch);
    Py_ssize_t cut = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        if ((PyObject *)Py_TYPE(PyList_GET_ITEM(batch, i)) == marker) {
            cut = i;
            break;
        }
    }
    if (cut == n) {
        /* The common case: no failure queued, take everything. */
        PyObject *r = PyObject_CallMethod(items, "clear", NULL);
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
    }
    else {
        /* Pop only the items before the failure (one popleft each: rare). */
        for (Py_ssize_t i = 0; i < cut; i++) {
            PyObject *r = PyObject_CallMethod(items, "popleft", NULL);
            if (r == NULL) {
                goto done;
            }
            Py_DECREF(r);
        }
        if (PyList_SetSlice(batch, cut, n, NULL) < 0) {
            goto done;
        }
    }
    result = batch;
    batch = NULL;
done:
#ifdef Py_GIL_DISABLED
    Py_END_CRITICAL_SECTION();
#endif
    Py_XDECREF(batch);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL, scan_doc},
    {"take_batch", (PyCFunction)(void (*)(void))take_batch, METH_FASTCALL, take_batch_doc},
    {NULL, NULL, 0, NULL},
};

static int
speedups_exec(PyObject *module)
{
    if (PyModule_AddStringConstant(module, "SOURCE_HASH", JETSOCKET_SOURCE_HASH) < 0) {
        return -1;
    }
    if (PyModule_AddIntConstant(module, "SCAN_API", JETSOCKET_SCAN_API) < 0) {
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, (void *)speedups_exec},
#ifdef Py_mod_gil
    /* Free-threaded CPython: scan() keeps no state and only touches its arguments;
     * take_batch() holds the deque's critical section. */
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "jetsocket._protocol._speedups",
    "Compiled scanner of common WebSocket frames (see _speedups.c).",
    0,
    speedups_methods,
    speedups_slots,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
