/* echo_server.c - an echo server (RFC 862) on synack, built against the
 * installed libraries alone:
 *
 *   cc -o echo_server echo_server.c $(pkg-config --cflags --libs synack-tap)
 *   sudo ./echo_server [stack options] [PORT]      (PORT: 7 by default)
 *
 * It brings up a TAP with synack on it (10.0.0.2, the host side 10.0.0.1,
 * as tapnc does) and sends back whatever arrives, to any number of clients.
 * The stack options (--tap, --addr, --trace, ...) are tapnc's. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <synack/host.h>

static sk_conn *listener;

/* Sends back what has arrived, only as much as the send buffer takes: the
 * rest stays in the stack (its window closes) until SK_EV_WRITABLE. */
static void echo(sk_conn *c)
{
    char buf[16384];
    for (;;) {
        size_t room = sk_send_space(c);
        if (room == 0)
            return;
        long n = sk_recv(c, buf, room < sizeof(buf) ? room : sizeof(buf));
        if (n > 0) {
            sk_send(c, buf, (size_t)n);
            continue;
        }
        /* 0: the peer closed and all is read, so close too (FIN after what
         * is queued); below 0 and not EAGAIN: the connection failed. */
        if (n != -SK_EAGAIN)
            sk_close(c);
        return;
    }
}

/* The loop calls this for every event of every connection. */
static void on_event(struct host *h, sk_conn *c, unsigned events)
{
    (void)h;
    (void)events;
    if (c != listener) {
        echo(c);
        return;
    }
    sk_conn *a;
    while ((a = sk_accept(listener)) != NULL)
        echo(a); /* data may have come with the handshake's last ACK */
}

int main(int argc, char **argv)
{
    struct host_opts o;
    host_opts_init(&o);
    /* The shared stack options and nothing else. */
    int ch;
    while ((ch = getopt_long(argc, argv, "v", host_long_opts, NULL)) != -1) {
        if (ch == 'v')
            o.verbose++;
        else if (host_opts_parse(&o, ch, optarg, "echo_server") != 1)
            return 1;
    }
    uint16_t port = optind < argc ? (uint16_t)atoi(argv[optind]) : 7;

    struct host h;
    if (host_up(&h, &o, "echo_server") < 0)
        return 1;
    h.on_event = on_event;
    int err;
    listener = sk_listen(h.stack, port, 0, &err);
    if (!listener || host_conn_opts(&h, listener) < 0) {
        if (!listener)
            fprintf(stderr, "echo_server: listen on port %u: %s\n", port, sk_strerror(err));
        host_down(&h);
        return 1;
    }
    fprintf(stderr, "echo_server: synack %s echoes on port %u\n", ip_str(o.addr, (char[16]){0}),
            port);
    int code = host_run(&h); /* until SIGINT or SIGTERM */
    host_down(&h);
    return code;
}
