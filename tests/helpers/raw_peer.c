/* raw_peer.c: test helper speaking broken ROMA1 to the broker from a raw DEALER (tests/test_broker.py).
 *
 *   raw_peer ENDPOINT front|back
 *
 * front: sends malformed client messages, then a well-framed REQUEST for kind "echo" whose payload is
 *        not msgpack (the broker routes it without decoding; the worker must answer ROMA_EINVAL).
 * back:  sends malformed worker messages and messages from an unregistered worker, then registers as
 *        kind "raw", answers with unknown / short tokens and leaves.
 * Every message received back within 1.5 s is printed as {"frames": [...]} with non-printable
 * frames hex-encoded; the exit status is 0 when the helper itself worked. */
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "command.h"
#include "util.h"
#include "wire.h"

#define P(s) {s, sizeof(s) - 1}

typedef struct frame {
    const char *data;
    size_t len;
} frame;

static int s_send(void *sock, const frame *f, int n)
{
    for (int i = 0; i < n; i++)
        if (zmq_send(sock, f[i].data, f[i].len, i + 1 < n ? ZMQ_SNDMORE : 0) < 0) return -1;
    return 0;
}

static void s_print_frame(const unsigned char *p, size_t n)
{
    int printable = 1;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\') printable = 0;
    if (printable) {
        printf("\"%.*s\"", (int)n, (const char *)p);
    } else {
        printf("\"hex:");
        for (size_t i = 0; i < n && i < 64; i++) printf("%02x", p[i]);
        printf("\"");
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: raw_peer ENDPOINT front|back\n");
        return 2;
    }
    int back = !strcmp(argv[2], "back");
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(s, argv[1]) != 0) return 1;
    util_sleep_ms(200); /* let the connection come up: nothing below is retried */

    static const char long_kind[] = "abcdefghijklmnopqrstuvwxyz";
    static const char zero8[8] = {0}, seven[7] = {0}, one[1] = {0}, credit3[3] = {0, 0, 1};
    static const char credit1[4] = {0, 0, 0, 1}, token3[3] = {1, 2, 3};
    static const char future_token[8] = {0x7f, 1, 2, 3, 4, 5, 6, 7};
    frame many[20];
    for (int i = 0; i < 20; i++) many[i] = (frame)P("ROMA1");
    int rc = 0;
    if (!back) {
        frame m1[] = {{"", 0}};
        frame m2[] = {P("ROMA1")};
        frame m3[] = {P("XXXX1"), P("REQUEST")};
        frame m4[] = {P("ROMA1"), P("REQUEST"), P("echo")};
        frame m5[] = {P("ROMA1"), P("REQUEST"), {long_kind, 26}, P("cid"), P(""), {zero8, 8}, {one, 1}, P("x")};
        frame m6[] = {P("ROMA1"), P("REQUEST"), P("echo"), P("cid"), P(""), {seven, 7}, {one, 1}, P("x")};
        frame m7[] = {P("ROMA1"), P("REQUEST"), P("echo"), P(""), P(""), {zero8, 8}, {one, 1}, P("x")};
        frame m8[] = {P("ROMA1"), P("PING")};
        frame m9[] = {P("ROMA1"), P("BOGUS"), P("cid")};
        frame m10[] = {P("ROMA1"), P("REQUEST"), P("e cho"), P("cid"), P(""), {zero8, 8}, {one, 1}, P("x")};
        /* well framed, payload not msgpack: reaches the worker, which answers ROMA_EINVAL */
        frame good[] = {P("ROMA1"), P("REQUEST"), P("echo"), P("garbage-cid"), P("rid"), {zero8, 8}, {one, 1},
                        P("\xc1not msgpack")};
        rc |= s_send(s, m1, 1) | s_send(s, m2, 1) | s_send(s, m3, 2) | s_send(s, m4, 3) | s_send(s, m5, 8) |
              s_send(s, m6, 8) | s_send(s, m7, 8) | s_send(s, m8, 2) | s_send(s, m9, 3) | s_send(s, m10, 8) |
              s_send(s, many, 20) | s_send(s, good, 8);
    } else {
        frame m1[] = {P("ROMA1"), P("READY")};
        frame m2[] = {P("ROMA1"), P("READY"), P("raw"), {credit3, 3}};
        frame m3[] = {P("ROMA1"), P("HEARTBEAT")};                     /* unknown worker: DISCONNECT */
        frame m4[] = {P("ROMA1"), P("REPLY"), {zero8, 8}, P("x")};      /* unknown worker: DISCONNECT */
        frame ready[] = {P("ROMA1"), P("READY"), P("raw"), {credit1, 4}};
        frame stale[] = {P("ROMA1"), P("REPLY"), {future_token, 8}, P("x")}; /* unknown token: ignored */
        frame shortt[] = {P("ROMA1"), P("DONE"), {token3, 3}};               /* malformed */
        frame bogus[] = {P("ROMA1"), P("BOGUS")};
        frame bye[] = {P("ROMA1"), P("DISCONNECT")};
        rc |= s_send(s, m1, 2) | s_send(s, m2, 4) | s_send(s, m3, 2) | s_send(s, m4, 4) | s_send(s, many, 20) |
              s_send(s, ready, 4) | s_send(s, stale, 4) | s_send(s, shortt, 3) | s_send(s, bogus, 2);
        util_sleep_ms(300);
        rc |= s_send(s, bye, 2);
    }

    int64_t end = util_mono_ms() + 1500;
    while (util_mono_ms() < end) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        printf("{\"frames\":[");
        int more = 1;
        for (int i = 0; more; i++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, 0) < 0) return 1;
            if (i) printf(",");
            if (i == 3 && !back && zmq_msg_size(&m) > 0) {
                /* REPLY payload: print the decoded status instead of bytes */
                roma_msg r;
                if (proto_decode(zmq_msg_data(&m), zmq_msg_size(&m), &r) == 0) printf("\"status:%d\"", r.status);
                else printf("\"undecodable\"");
                proto_msg_clear(&r);
            } else {
                s_print_frame(zmq_msg_data(&m), zmq_msg_size(&m));
            }
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        printf("]}\n");
        fflush(stdout);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc ? 1 : 0;
}
