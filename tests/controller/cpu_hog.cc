// Keeps `threads` CPUs busy until it is killed: the regression test's way of
// making one sweep of a device slower on purpose.
//
//   cpu_hog 6
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  std::atomic<unsigned long> sink{0};
  std::vector<std::thread> spinners;
  for (int i = 0; i < threads; ++i) {
    spinners.emplace_back([&sink] {
      for (unsigned long n = 0;; ++n) sink.fetch_add(n, std::memory_order_relaxed);
    });
  }
  for (std::thread& t : spinners) t.join();
  return 0;
}
