/*
 * The I/O floor for the resolver benchmark: a UDP "server" that does nothing
 * but send each query back with the QR bit set, so dnsperf counts it as
 * answered. What it costs per query is what the kernel costs for that I/O
 * pattern, with no DNS work at all (docs/benchmarks.md, session 5).
 *
 *   gcc -O2 -o /tmp/udp_echo crates/dns/benches/udp_echo.c
 *   taskset -c 1 /tmp/udp_echo MODE &        # listens on 127.0.30.1:5353
 *   taskset -c 0 dnsperf -s 127.0.30.1 -p 5353 -d QUERIES -l 6 -c 4 -q 200
 *   # CPU: utime+stime of the echo process from /proc/PID/stat before and after
 *
 * MODE 0: recvmmsg(MSG_WAITFORONE) of up to 32, then one sendmmsg (appwarden's loop)
 * MODE 1: poll, then recvfrom/sendto per datagram until EAGAIN (as Unbound does)
 * MODE 2: recvmmsg(MSG_WAITFORONE), then sendto per datagram
 * MODE 3: poll, then non-blocking recvmmsg and one sendmmsg
 *
 * Loopback only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 32

static char bufs[BATCH][4096];
static struct iovec iov[BATCH];
static struct mmsghdr msgs[BATCH];
static struct sockaddr_in peers[BATCH];

static void arm(void) {
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = sizeof bufs[i];
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &peers[i];
    msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
  }
}

int main(int argc, char **argv) {
  int mode = argc > 1 ? atoi(argv[1]) : 0;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(5353);
  inet_pton(AF_INET, "127.0.30.1", &a.sin_addr);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("bind 127.0.30.1:5353");
    return 1;
  }
  int pmtu = IP_PMTUDISC_PROBE;
  setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
  if (mode == 1 || mode == 3) fcntl(fd, F_SETFL, O_NONBLOCK);
  for (;;) {
    if (mode == 1) {
      struct pollfd p = {fd, POLLIN, 0};
      poll(&p, 1, -1);
      for (int k = 0; k < 100; k++) {
        socklen_t len = sizeof peers[0];
        ssize_t n = recvfrom(fd, bufs[0], sizeof bufs[0], 0, (struct sockaddr *)&peers[0], &len);
        if (n < 3) break;
        bufs[0][2] |= 0x80;
        sendto(fd, bufs[0], (size_t)n, 0, (struct sockaddr *)&peers[0], len);
      }
      continue;
    }
    if (mode == 3) {
      struct pollfd p = {fd, POLLIN, 0};
      poll(&p, 1, -1);
    }
    arm();
    int n = recvmmsg(fd, msgs, BATCH, mode == 3 ? 0 : MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    for (int i = 0; i < n; i++) {
      if (msgs[i].msg_len > 2) bufs[i][2] |= 0x80;
      iov[i].iov_len = msgs[i].msg_len;
    }
    if (mode == 2) {
      for (int i = 0; i < n; i++)
        sendto(fd, bufs[i], msgs[i].msg_len, 0, (struct sockaddr *)&peers[i], msgs[i].msg_hdr.msg_namelen);
    } else {
      sendmmsg(fd, msgs, (unsigned)n, 0);
    }
  }
}
