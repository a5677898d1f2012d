// A stand-in server for server_process_test: logs "chatter serving on
// 127.0.0.1:1" (ignoring its arguments), then a line to stderr every
// millisecond until it is killed, so it is always mid-output when its
// ServerProcess is destroyed.
#include <unistd.h>

#include <cstdio>

int main() {
  std::fprintf(stderr, "chatter serving on 127.0.0.1:1 (not really)\n");
  for (long line = 0;; ++line) {
    std::fprintf(stderr, "chatter line %ld\n", line);
    usleep(1000);
  }
}
