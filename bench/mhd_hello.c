/* The C-only ceiling for bench/throughput: a libmicrohttpd hello world in
 * the same threading mode hotserve uses (one thread per connection, an
 * internal listener thread, poll()), with no Python and no reloader.
 *
 *   cc -O2 bench/mhd_hello.c $(pkg-config --cflags --libs libmicrohttpd) \
 *      -o mhd_hello
 *   ./mhd_hello PORT        # 0 picks a free port
 *
 * Listens on 127.0.0.1:PORT, prints the port it bound on stdout (one
 * line), answers every request with "Hello, World!\n" (text/plain) from
 * one persistent buffer response, and exits 0 on SIGINT or SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

static const char BODY[] = "Hello, World!\n";

/* Request bodies are read and dropped so that a POST gets the same answer
 * without breaking keep-alive; the response is queued once the request is
 * complete, as a WSGI server does. */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version,
           const char *upload_data, size_t *upload_data_size,
           void **req_cls)
{
    static int started;
    struct MHD_Response *resp = cls;

    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) {
        *req_cls = &started;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(conn, MHD_HTTP_OK, resp);
}

static int
parse_port(const char *s, unsigned short *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
        return -EINVAL;
    *out = (unsigned short)v;
    return 0;
}

int
main(int argc, char **argv)
{
    struct MHD_Response *resp = NULL;
    struct MHD_Daemon *d = NULL;
    const union MHD_DaemonInfo *info;
    struct sockaddr_in sa;
    unsigned short port;
    sigset_t stop;
    int sig;
    int rc = 1;

    if (argc != 2 || parse_port(argv[1], &port) < 0) {
        fprintf(stderr, "usage: %s PORT   (0-65535, 0 = any free port)\n",
                argc > 0 ? argv[0] : "mhd_hello");
        return 2;
    }

    /* Block the stop signals before MHD starts its threads so that they
     * inherit the mask and only sigwait() below sees the signal. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
        perror("mhd_hello: pthread_sigmask");
        return 1;
    }
    /* A client that resets the connection must not kill the server. */
    signal(SIGPIPE, SIG_IGN);

    resp = MHD_create_response_from_buffer(sizeof(BODY) - 1, (void *)BODY,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL
        || MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                   "text/plain") != MHD_YES) {
        fprintf(stderr, "mhd_hello: cannot create the response\n");
        goto fail;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION
                         | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO
                         | MHD_USE_ITC | MHD_USE_ERROR_LOG,
                         port, NULL, NULL, on_request, resp,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_hello: cannot listen on 127.0.0.1:%u\n",
                (unsigned)port);
        goto fail;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        fprintf(stderr, "mhd_hello: cannot read the bound port\n");
        goto fail;
    }
    printf("%u\n", (unsigned)info->port);
    fflush(stdout);

    if (sigwait(&stop, &sig) != 0) {
        fprintf(stderr, "mhd_hello: sigwait failed\n");
        goto fail;
    }
    rc = 0;
fail:
    if (d != NULL)
        MHD_stop_daemon(d);
    if (resp != NULL)
        MHD_destroy_response(resp);
    return rc;
}
