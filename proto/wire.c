/* wire.c: multipart receive/send helpers for the ROMA1 frame protocol (see wire.h). */
#include "wire.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "command.h"

int wire_recv(void *sock, wire_frames *fr, int flags)
{
    assert(sock && fr);
    fr->n = 0;
    fr->overflow = 0;
    for (;;) {
        zmq_msg_t tmp, *m = fr->n < WIRE_MAX_FRAMES ? &fr->f[fr->n] : &tmp;
        if (zmq_msg_init(m) != 0) goto fail;
        /* Only the first frame may block or fail with EAGAIN: the rest of a multipart message is
         * already queued when its first frame is readable. */
        if (zmq_msg_recv(m, sock, fr->n == 0 && !fr->overflow ? flags : 0) < 0) {
            int e = errno;
            zmq_msg_close(m);
            errno = e;
            goto fail;
        }
        int more = zmq_msg_more(m);
        if (m == &tmp) {
            zmq_msg_close(&tmp);
            fr->overflow = 1;
        } else {
            fr->n++;
        }
        if (!more) return 0;
    }
fail: {
    int e = errno;
    wire_frames_close(fr);
    errno = e;
    return ROMA_EIO;
}
}

void wire_frames_close(wire_frames *fr)
{
    if (!fr) return;
    for (int i = 0; i < fr->n; i++) zmq_msg_close(&fr->f[i]);
    fr->n = 0;
}

int wire_is(wire_frames *fr, int i, const char *s)
{
    size_t n = strlen(s);
    return i < fr->n && wire_size(fr, i) == n && memcmp(wire_data(fr, i), s, n) == 0;
}

int wire_str(wire_frames *fr, int i, char *dst, size_t cap)
{
    if (i >= fr->n) return ROMA_EINVAL;
    size_t n = wire_size(fr, i);
    const char *p = wire_data(fr, i);
    if (!proto_header_ok(p, n, cap)) return ROMA_EINVAL;
    if (n) memcpy(dst, p, n);
    dst[n] = '\0';
    return 0;
}

int wire_send(void *sock, const wire_part *parts, int n, int flags)
{
    assert(sock && parts && n > 0);
    for (int i = 0; i < n; i++) {
        int f = flags | (i + 1 < n ? ZMQ_SNDMORE : 0);
        int rc;
        if (parts[i].msg) {
            rc = zmq_msg_send(parts[i].msg, sock, f);
        } else {
            rc = zmq_send(sock, parts[i].data, parts[i].len, f);
        }
        if (rc < 0) return ROMA_EIO;
    }
    return 0;
}

void wire_ctx_term(void *ctx)
{
    if (!ctx) return;
    while (zmq_ctx_term(ctx) != 0 && errno == EINTR) {
    }
}

int wire_socket_defaults(void *sock, int sndhwm, int rcvhwm)
{
    int linger = 0;
    int64_t maxsz = WIRE_MAX_FRAME_BYTES;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0) return ROMA_EIO;
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxsz, sizeof maxsz) != 0) return ROMA_EIO;
    if (zmq_setsockopt(sock, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm) != 0) return ROMA_EIO;
    if (zmq_setsockopt(sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm) != 0) return ROMA_EIO;
    return 0;
}
