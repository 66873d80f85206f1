// The same-day floor for the network workloads (WORKLOADS.md): a minimal liburing server in C,
// one thread, one ring, single-shot accept/recv/send, one io_uring_submit_and_wait per loop
// iteration, DEFER_TASKRUN + SINGLE_ISSUER where the kernel has them. eddy's example servers
// are judged against this program run minutes apart on the same machine (net_bench.sh
// --floor), because this shared VM's speed changes from day to day.
//
//   uring_floor echo|http [--port P]   (default port 0: any free one);
//                                      prints "listening on 127.0.0.1:P"
//
// echo: writes back whatever arrives. http: WORKLOADS.md's plaintext server (keep-alive,
// pipelined requests answered in order in one send, a 16 KiB incomplete request closes).
//
// Build: cc -O2 -o uring_floor uring_floor.c -luring
#define _GNU_SOURCE  // memmem
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { buffer_size = 65536, ring_entries = 4096, request_limit = 16384 };
enum kind { accepting, receiving, sending };

struct connection {
  int fd;
  enum kind kind;
  unsigned length;    // bytes to send (echo: as received; http: the responses)
  unsigned sent;      // of those, sent so far
  unsigned buffered;  // http: bytes of requests not answered yet, at the start of `buffer`
  char buffer[buffer_size];
  char out[buffer_size];
};

static int http_mode;
static const char ok_response[] =
    "HTTP/1.1 200 OK\r\nServer: eddy\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
    "Hello, World!";
static const char not_found_response[] =
    "HTTP/1.1 404 Not Found\r\nServer: eddy\r\nContent-Length: 0\r\n\r\n";

static struct io_uring ring;
static struct connection acceptor;

static struct io_uring_sqe* next_sqe(void) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (sqe == NULL) {  // the submission queue is full: hand it to the kernel and retry
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
  }
  return sqe;
}

static void arm_accept(void) {
  struct io_uring_sqe* sqe = next_sqe();
  io_uring_prep_accept(sqe, acceptor.fd, NULL, NULL, SOCK_CLOEXEC);
  io_uring_sqe_set_data(sqe, &acceptor);
}

static void arm_recv(struct connection* c) {
  c->kind = receiving;
  struct io_uring_sqe* sqe = next_sqe();
  io_uring_prep_recv(sqe, c->fd, c->buffer + c->buffered, buffer_size - c->buffered, 0);
  io_uring_sqe_set_data(sqe, c);
}

static void arm_send(struct connection* c) {
  c->kind = sending;
  const char* from = http_mode ? c->out : c->buffer;
  struct io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, c->fd, from + c->sent, c->length - c->sent, MSG_NOSIGNAL);
  io_uring_sqe_set_data(sqe, c);
}

/// Answers every complete request in the buffer into `out`; returns the bytes of responses, or
/// -1 when the connection must close (an incomplete request reached the limit).
static int answer_requests(struct connection* c) {
  unsigned length = 0;
  unsigned start = 0;
  for (;;) {
    const char* end = memmem(c->buffer + start, c->buffered - start, "\r\n\r\n", 4);
    if (end == NULL) {
      break;
    }
    const int found = memcmp(c->buffer + start, "GET / ", 6) == 0;
    const char* response = found ? ok_response : not_found_response;
    const unsigned size = found ? sizeof ok_response - 1 : sizeof not_found_response - 1;
    if (length + size > buffer_size) {
      break;  // answer the rest after this send
    }
    memcpy(c->out + length, response, size);
    length += size;
    start = (unsigned)(end + 4 - c->buffer);
  }
  memmove(c->buffer, c->buffer + start, c->buffered - start);
  c->buffered -= start;
  if (length == 0 && c->buffered >= request_limit) {
    return -1;
  }
  return (int)length;
}

static void close_connection(struct connection* c);

/// http: sends the answers to the complete requests buffered, or receives more.
static void answer_or_receive(struct connection* c) {
  const int answered = answer_requests(c);
  if (answered < 0) {
    close_connection(c);
  } else if (answered == 0) {
    arm_recv(c);
  } else {
    c->length = (unsigned)answered;
    c->sent = 0;
    arm_send(c);
  }
}

static void close_connection(struct connection* c) {
  close(c->fd);
  free(c);
}

static void completed(struct connection* c, int result) {
  if (c == &acceptor) {
    if (result >= 0) {
      struct connection* accepted = malloc(sizeof *accepted);
      if (accepted == NULL) {
        close(result);
      } else {
        int one = 1;
        setsockopt(result, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        accepted->fd = result;
        accepted->buffered = 0;
        arm_recv(accepted);
      }
    }
    arm_accept();
    return;
  }
  if (result <= 0) {  // EOF or an error
    close_connection(c);
    return;
  }
  if (c->kind == receiving) {
    if (!http_mode) {
      c->length = (unsigned)result;
      c->sent = 0;
      arm_send(c);
      return;
    }
    c->buffered += (unsigned)result;
    answer_or_receive(c);
    return;
  }
  c->sent += (unsigned)result;
  if (c->sent < c->length) {
    arm_send(c);
  } else if (http_mode && c->buffered > 0) {
    answer_or_receive(c);  // requests left over from a full response buffer
  } else {
    arm_recv(c);
  }
}

int main(int argc, char** argv) {
  int port = 0;
  if (argc < 2 || (strcmp(argv[1], "echo") != 0 && strcmp(argv[1], "http") != 0)) {
    fprintf(stderr, "usage: uring_floor echo|http [--port P]\n");
    return 2;
  }
  http_mode = strcmp(argv[1], "http") == 0;
  for (int i = 2; i < argc; ++i) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: uring_floor echo|http [--port P]\n");
      return 2;
    }
  }
  acceptor.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(acceptor.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(acceptor.fd, (struct sockaddr*)&address, sizeof address) != 0 ||
      listen(acceptor.fd, 1024) != 0) {
    perror("uring_floor: bind/listen");
    return 1;
  }
  socklen_t length = sizeof address;
  getsockname(acceptor.fd, (struct sockaddr*)&address, &length);

  struct io_uring_params params = {.flags =
                                       IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
  if (io_uring_queue_init_params(ring_entries, &ring, &params) < 0) {
    memset(&params, 0, sizeof params);
    int error = io_uring_queue_init_params(ring_entries, &ring, &params);
    if (error < 0) {
      fprintf(stderr, "uring_floor: io_uring_queue_init: %s\n", strerror(-error));
      return 1;
    }
  }
  printf("listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  fflush(stdout);

  arm_accept();
  for (;;) {
    int error = io_uring_submit_and_wait(&ring, 1);
    if (error < 0 && error != -EINTR) {
      fprintf(stderr, "uring_floor: io_uring_submit_and_wait: %s\n", strerror(-error));
      return 1;
    }
    struct io_uring_cqe* cqe;
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      completed(io_uring_cqe_get_data(cqe), cqe->res);
      ++seen;
    }
    io_uring_cq_advance(&ring, seen);
  }
}
