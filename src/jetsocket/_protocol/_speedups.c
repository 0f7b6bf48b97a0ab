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
 * With a decoder (the engine's msgspec decoder, see Receiver.wire_decode), scan() also
 * decodes each such message as it finds it, appending the decoded value instead of the
 * payload: no bytes object, no second list and no second pass per chunk. The payload is
 * handed to the decoder without a copy, as a read-only buffer over the chunk (a Payload
 * object reused from one message to the next, replaced as soon as anything keeps a
 * reference to it), or as a bytes copy when `copy` is true. A payload the decoder
 * rejects (any Exception) is appended undecoded, as the Python loop would append it, and
 * its index added to `raw_at`: the engine decodes those again through its slow path
 * (fallbacks, failures, events), as it decodes every message of a pure-Python reader.
 *
 * Two helpers of the engine's consumer queue (jetsocket/_engine/_queue.py) live here too,
 * as they need the same build: take_batch() (MessageQueue.batches) and QueueIter (its
 * async iterator). Both only do, faster, what the pure-Python code does.
 *
 * The build hook (hatch_build.py) defines JETSOCKET_SOURCE_HASH as the SHA-256 of this
 * file; _reader.py compares it with the file on disk at import and ignores a stale build.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h> /* T_OBJECT_EX, READ_RESTRICTED (QueueIter) */
#include <stdint.h>
#include <string.h>

#ifndef JETSOCKET_SOURCE_HASH
#define JETSOCKET_SOURCE_HASH ""
#endif

/* Bumped whenever a function's signature or contract changes; _reader.py checks it.
 * 2: take_batch() added. 3: QueueIter added. 4: scan() decodes (decode, raw_at, copy). */
#define JETSOCKET_SCAN_API 4

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

/* Whether a text payload kept as bytes is valid UTF-8: 1 valid, 0 not (the Python loop
   reports 1007), -1 with an exception set (memory). ASCII needs no decoding. */
static int
valid_text(const char *p, Py_ssize_t len)
{
    if (is_ascii((const unsigned char *)p, len)) {
        return 1;
    }
    PyObject *check = decode_utf8(p, len);
    if (check == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_DECREF(check);
    return 1;
}

/*
 * Payload: a read-only buffer over part of a bytes object (the chunk being scanned), the
 * argument scan() gives the decoder instead of a copy of each payload. It keeps the chunk
 * alive, so whatever the decoder keeps of it (a view, msgspec.Raw) stays valid; scan()
 * moves it to the next payload only while nothing else holds a reference to it.
 */
typedef struct {
    PyObject_HEAD
    PyObject *base; /* the bytes object that owns the memory */
    const char *buf;
    Py_ssize_t len;
} Payload;

static int
payload_getbuffer(Payload *self, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->buf, self->len, 1, flags);
}

static void
payload_dealloc(Payload *self)
{
    Py_XDECREF(self->base);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyBufferProcs payload_as_buffer = {
    .bf_getbuffer = (getbufferproc)payload_getbuffer,
};

static PyTypeObject PayloadType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "jetsocket._protocol._speedups.Payload",
    .tp_doc = "A read-only buffer over one payload of a received chunk (see _speedups.c).",
    .tp_basicsize = sizeof(Payload),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)payload_dealloc,
    .tp_as_buffer = &payload_as_buffer,
};

static Payload *
payload_new(PyObject *base)
{
    Payload *view = PyObject_New(Payload, &PayloadType);
    if (view != NULL) {
        Py_INCREF(base);
        view->base = base;
        view->buf = NULL;
        view->len = 0;
    }
    return view;
}

PyDoc_STRVAR(scan_doc,
"scan(buf, pos, out, text_as_str, max_size, decode=None, raw_at=None, copy=False, /)"
" -> int\n"
"\n"
"Append to ``out`` the messages of the complete, unfragmented, uncompressed text/binary\n"
"frames of ``buf`` from ``pos``; return the offset of the first frame not consumed.\n"
"With ``decode``, append ``decode(payload)`` instead; a payload it rejects is appended\n"
"as is and its index added to the list ``raw_at``.");

/* The payload as the Python loop appends it: text as str (text_as_str) or UTF-8 bytes,
   binary as bytes. Text is known to be valid UTF-8 here. */
static PyObject *
raw_item(const char *payload, Py_ssize_t len, int text, int text_as_str)
{
    if (text && text_as_str) {
        return PyUnicode_DecodeUTF8(payload, len, NULL);
    }
    return PyBytes_FromStringAndSize(payload, len);
}

static PyObject *
scan(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 5 || nargs > 8) {
        PyErr_Format(PyExc_TypeError, "scan() takes 5 to 8 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *decode = nargs > 5 && args[5] != Py_None ? args[5] : NULL;
    PyObject *raw_at = nargs > 6 ? args[6] : Py_None;
    int copy = 0;
    if (decode != NULL) {
        if (!PyCallable_Check(decode)) {
            PyErr_SetString(PyExc_TypeError, "scan(): decode must be callable");
            return NULL;
        }
        if (!PyList_CheckExact(raw_at)) {
            PyErr_SetString(PyExc_TypeError, "scan(): raw_at must be a list");
            return NULL;
        }
        copy = nargs > 7 ? PyObject_IsTrue(args[7]) : 0;
        if (copy < 0) {
            return NULL;
        }
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
    Payload *view = NULL; /* the decoder's zero-copy argument, created on first use */

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
        if (b0 == 0x81 && !(decode == NULL && text_as_str)) {
            /* Text kept as bytes (for the decoder or as the payload): check it here. */
            const int valid = valid_text(payload, len);
            if (valid < 0) {
                goto error;
            }
            if (!valid) {
                break; /* invalid UTF-8: 1007 from the Python loop */
            }
        }
        if (decode != NULL) {
            PyObject *arg;
            if (copy) {
                arg = PyBytes_FromStringAndSize(payload, len);
                if (arg == NULL) {
                    goto error;
                }
            }
            else {
                if (view == NULL || Py_REFCNT(view) > 1) {
                    /* First payload, or the decoder kept the previous one: a new view. */
                    Py_XDECREF(view);
                    view = payload_new(buf);
                    if (view == NULL) {
                        goto error;
                    }
                }
                view->buf = payload;
                view->len = len;
                arg = (PyObject *)view;
                Py_INCREF(arg);
            }
            item = PyObject_Vectorcall(decode, &arg, 1, NULL);
            Py_DECREF(arg);
            if (item == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_Exception)) {
                    goto error; /* KeyboardInterrupt and the like go up */
                }
                /* Rejected: appended as the payload, decoded again by the engine. */
                PyErr_Clear();
                PyObject *index = PyLong_FromSsize_t(PyList_GET_SIZE(out));
                if (index == NULL) {
                    goto error;
                }
                int failed = PyList_Append(raw_at, index);
                Py_DECREF(index);
                if (failed) {
                    goto error;
                }
                item = raw_item(payload, len, b0 == 0x81, text_as_str);
                if (item == NULL) {
                    goto error;
                }
            }
        }
        else if (b0 == 0x81 && text_as_str) {
            item = decode_utf8(payload, len); /* validates as it decodes */
            if (item == NULL && !PyErr_Occurred()) {
                break; /* invalid UTF-8: 1007 from the Python loop */
            }
        }
        else {
            item = PyBytes_FromStringAndSize(payload, len); /* binary, or text checked above */
        }
        if (item == NULL) {
            goto error;
        }
        int failed = PyList_Append(out, item);
        Py_DECREF(item);
        if (failed) {
            goto error;
        }
        pos = start + len;
    }
    Py_XDECREF(view);
    return PyLong_FromSsize_t(pos);
error:
    Py_XDECREF(view);
    return NULL;
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

/*
 * QueueIter(queue, items, marker_type, slow): the async iterator of MessageQueue (the
 * `async for m in ws` of jetsocket), without an async generator step per message.
 *
 * __anext__ pops the next item itself when the answer is plain: the deque is not empty,
 * its first item is not a stored failure (type exactly marker_type) and queue.paused is
 * false (read from its __slots__ member directly). It then returns itself as an awaitable that completes at once with the item
 * (am_send: no StopIteration object is built). Anything else -- an empty deque (wait),
 * a failure (raise), a paused producer (resume), the end -- is returned to Python:
 * slow(self) is MessageQueue._next_slow, a coroutine that does exactly what the pure
 * async generator does for one step, and finishes this iterator when it raises, as a
 * generator that raised is finished (StopAsyncIteration for ever after).
 */
typedef struct {
    PyObject_HEAD
    PyObject *queue;
    PyObject *items;
    PyObject *popleft;
    PyObject *marker;
    PyObject *slow;
    PyObject *value; /* the item the pending await returns (NULL: none pending) */
    PyTypeObject *queue_type; /* type(queue) when paused_offset was found (borrowed) */
    Py_ssize_t paused_offset; /* where queue.paused is stored (its __slots__ member), or -1 */
    int finished;
} QueueIter;

static PyObject *str_paused;

static int
queueiter_init(QueueIter *self, PyObject *args, PyObject *kwds)
{
    PyObject *queue, *items, *marker, *slow;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "QueueIter() takes no keyword arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "OOOO:QueueIter", &queue, &items, &marker, &slow)) {
        return -1;
    }
    /* queue.paused is read at every step: when it is a __slots__ member of the queue's
     * class (MessageQueue's), read the slot directly; anything else goes through getattr. */
    Py_ssize_t paused_offset = -1;
    PyObject *descr = PyObject_GetAttr((PyObject *)Py_TYPE(queue), str_paused);
    if (descr == NULL) {
        PyErr_Clear();
    }
    else {
        if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
            if (member->type == T_OBJECT_EX && !(member->flags & READ_RESTRICTED)) {
                paused_offset = member->offset;
            }
        }
        Py_DECREF(descr);
    }
    PyObject *popleft = PyObject_GetAttrString(items, "popleft");
    if (popleft == NULL) {
        return -1;
    }
    Py_INCREF(queue);
    Py_INCREF(items);
    Py_INCREF(marker);
    Py_INCREF(slow);
    Py_XSETREF(self->queue, queue);
    Py_XSETREF(self->items, items);
    Py_XSETREF(self->popleft, popleft);
    Py_XSETREF(self->marker, marker);
    Py_XSETREF(self->slow, slow);
    Py_CLEAR(self->value);
    self->queue_type = Py_TYPE(queue);
    self->paused_offset = paused_offset;
    self->finished = 0;
    return 0;
}

static int
queueiter_traverse(QueueIter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->queue);
    Py_VISIT(self->items);
    Py_VISIT(self->popleft);
    Py_VISIT(self->marker);
    Py_VISIT(self->slow);
    Py_VISIT(self->value);
    return 0;
}

static int
queueiter_clear(QueueIter *self)
{
    Py_CLEAR(self->queue);
    Py_CLEAR(self->items);
    Py_CLEAR(self->popleft);
    Py_CLEAR(self->marker);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->value);
    return 0;
}

static void
queueiter_dealloc(QueueIter *self)
{
    PyObject_GC_UnTrack(self);
    queueiter_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
queueiter_aiter(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static PyObject *
queueiter_anext(QueueIter *self)
{
    if (self->items == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "QueueIter not initialised");
        return NULL;
    }
    if (self->value != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "anext(): the previous step was not awaited");
        return NULL;
    }
    Py_ssize_t n = self->finished ? 0 : PyObject_Length(self->items);
    if (n < 0) {
        return NULL;
    }
    if (n > 0) {
        int plain;
        if (self->paused_offset >= 0 && Py_TYPE(self->queue) == self->queue_type) {
            /* The slot itself, as getattr would read it (NULL: unset, the slow path). */
            PyObject *paused = *(PyObject **)((char *)self->queue + self->paused_offset);
            plain = paused == Py_False;
        }
        else {
            PyObject *paused = PyObject_GetAttr(self->queue, str_paused);
            if (paused == NULL) {
                return NULL;
            }
            plain = paused == Py_False;
            Py_DECREF(paused);
        }
        if (plain) {
            PyObject *head = PySequence_GetItem(self->items, 0);
            if (head == NULL) {
                return NULL;
            }
            plain = (PyObject *)Py_TYPE(head) != self->marker;
            Py_DECREF(head);
        }
        if (plain) {
            PyObject *item = PyObject_CallNoArgs(self->popleft);
            if (item == NULL) {
                return NULL;
            }
            self->value = item;
            Py_INCREF(self);
            return (PyObject *)self;
        }
    }
    return PyObject_CallOneArg(self->slow, (PyObject *)self);
}

static PySendResult
queueiter_send(QueueIter *self, PyObject *arg, PyObject **presult)
{
    (void)arg;
    PyObject *value = self->value;
    if (value == NULL) {
        Py_INCREF(Py_None);
        *presult = Py_None;
        return PYGEN_RETURN;
    }
    self->value = NULL;
    *presult = value; /* the reference moves to the caller */
    return PYGEN_RETURN;
}

static PyObject *
queueiter_iternext(QueueIter *self)
{
    /* The await protocol without am_send: StopIteration carrying the item. */
    PyObject *value = self->value;
    if (value == NULL) {
        return NULL; /* StopIteration with None */
    }
    self->value = NULL;
    PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, value);
    Py_DECREF(value);
    if (stop == NULL) {
        return NULL;
    }
    PyErr_SetObject(PyExc_StopIteration, stop);
    Py_DECREF(stop);
    return NULL;
}

static PyObject *
queueiter_await(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static PyObject *
queueiter_finish(QueueIter *self, PyObject *unused)
{
    (void)unused;
    self->finished = 1;
    Py_RETURN_NONE;
}

static PyObject *
queueiter_aclose(QueueIter *self, PyObject *unused)
{
    /* As an async generator's aclose(): later steps raise StopAsyncIteration. */
    (void)unused;
    self->finished = 1;
    Py_CLEAR(self->value);
    Py_INCREF(self);
    return (PyObject *)self; /* an awaitable completing at once with None */
}

static PyObject *
queueiter_get_finished(QueueIter *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->finished);
}

static PyMethodDef queueiter_methods[] = {
    {"finish", (PyCFunction)queueiter_finish, METH_NOARGS,
     "Finish this iterator: every later step raises StopAsyncIteration."},
    {"aclose", (PyCFunction)queueiter_aclose, METH_NOARGS,
     "Finish this iterator (awaitable, as an async generator's aclose)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef queueiter_getset[] = {
    {"finished", (getter)queueiter_get_finished, NULL, "True once finished.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyAsyncMethods queueiter_as_async = {
    .am_await = queueiter_await,
    .am_aiter = queueiter_aiter,
    .am_anext = (unaryfunc)queueiter_anext,
    .am_send = (sendfunc)queueiter_send,
};

static PyTypeObject QueueIterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "jetsocket._protocol._speedups.QueueIter",
    .tp_doc = "Async iterator of a MessageQueue (see _speedups.c).",
    .tp_basicsize = sizeof(QueueIter),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)queueiter_init,
    .tp_dealloc = (destructor)queueiter_dealloc,
    .tp_traverse = (traverseproc)queueiter_traverse,
    .tp_clear = (inquiry)queueiter_clear,
    .tp_as_async = &queueiter_as_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)queueiter_iternext,
    .tp_methods = queueiter_methods,
    .tp_getset = queueiter_getset,
};

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
    if (str_paused == NULL) {
        str_paused = PyUnicode_InternFromString("paused");
        if (str_paused == NULL) {
            return -1;
        }
    }
    if (PyType_Ready(&PayloadType) < 0) {
        return -1;
    }
    if (PyType_Ready(&QueueIterType) < 0) {
        return -1;
    }
    Py_INCREF(&QueueIterType);
    if (PyModule_AddObject(module, "QueueIter", (PyObject *)&QueueIterType) < 0) {
        Py_DECREF(&QueueIterType);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, (void *)speedups_exec},
#ifdef Py_mod_gil
    /* Free-threaded CPython: scan() keeps no state and only touches its arguments;
     * take_batch() holds the deque's critical section; a QueueIter is used by the one
     * event-loop thread that consumes its queue. */
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
