#include "model/parallel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace llmq {
namespace {

// How long an idle worker polls for the next job before it sleeps. A decode step's
// linears follow each other within tens of microseconds, so polling saves the wake-up
// (a futex wake is ~5-20 us); past that the worker yields its core to BLAS's threads.
constexpr auto kSpin = std::chrono::microseconds(50);

thread_local bool t_in_chunk = false;

inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

class Pool {
 public:
  static Pool& Get() {
    static Pool* pool = new Pool();  // never destroyed: workers live until the process ends
    return *pool;
  }

  // Runs the job on the caller and up to threads - 1 workers; false when another thread's
  // job holds the pool (the caller then runs serially).
  bool Run(int threads, int64_t begin, int64_t end, int64_t chunk, int64_t chunks,
           internal::ChunkFn fn, void* ctx) {
    std::unique_lock<std::mutex> run(run_mu_, std::try_to_lock);
    if (!run.owns_lock()) return false;
    EnsureWorkers(threads - 1);
    Job job;
    {
      std::lock_guard<std::mutex> lock(mu_);
      job = {gen_.load(std::memory_order_relaxed) + 1, begin, end, chunk, chunks, fn, ctx,
             threads - 1};
      job_ = job;
      error_ = nullptr;
      done_.store(0, std::memory_order_relaxed);
      claim_.store(uint64_t{job.gen} << 32, std::memory_order_relaxed);
      gen_.store(job.gen, std::memory_order_release);
      if (sleepers_ > 0) cv_.notify_all();
    }
    RunChunks(job);
    for (int i = 0; done_.load(std::memory_order_acquire) < chunks; ++i) {
      if (i < 4096) {
        CpuRelax();
      } else {
        std::this_thread::yield();
      }
    }
    std::exception_ptr error;
    {
      std::lock_guard<std::mutex> lock(mu_);
      error = error_;
    }
    if (error) std::rethrow_exception(error);
    return true;
  }

 private:
  struct Job {
    uint32_t gen = 0;
    int64_t begin = 0, end = 0, chunk = 0, chunks = 0;
    internal::ChunkFn fn = nullptr;
    void* ctx = nullptr;
    int workers = 0;  // workers 0 .. workers - 1 take part
  };

  void EnsureWorkers(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      const int index = static_cast<int>(workers_.size());
      workers_.emplace_back([this, index] { WorkerLoop(index); });
    }
  }

  void WorkerLoop(int index) {
    uint32_t seen = 0;
    for (;;) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 1; gen_.load(std::memory_order_acquire) == seen; ++i) {
        CpuRelax();
        if ((i & 255) == 0 && std::chrono::steady_clock::now() - start > kSpin) break;
      }
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (gen_.load(std::memory_order_relaxed) == seen) {
          ++sleepers_;
          cv_.wait(lock, [&] { return gen_.load(std::memory_order_relaxed) != seen; });
          --sleepers_;
        }
        job = job_;
      }
      seen = job.gen;
      if (index < job.workers) RunChunks(job);
    }
  }

  // Claims chunks of `job` until none is left (or a newer job replaced it) and runs them.
  void RunChunks(const Job& job) {
    t_in_chunk = true;
    for (;;) {
      uint64_t v = claim_.load(std::memory_order_relaxed);
      bool claimed = false;
      while ((v >> 32) == job.gen && static_cast<int64_t>(v & 0xffffffffu) < job.chunks) {
        if (claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) {
          claimed = true;
          break;
        }
      }
      if (!claimed) break;
      const int64_t b = job.begin + static_cast<int64_t>(v & 0xffffffffu) * job.chunk;
      try {
        job.fn(job.ctx, b, std::min(job.end, b + job.chunk));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
      done_.fetch_add(1, std::memory_order_release);
    }
    t_in_chunk = false;
  }

  std::mutex run_mu_;  // one job at a time
  std::mutex mu_;
  std::condition_variable cv_;
  Job job_;                        // guarded by mu_
  std::exception_ptr error_;       // guarded by mu_
  int sleepers_ = 0;               // guarded by mu_
  std::atomic<uint32_t> gen_{0};   // job_.gen, readable without the lock
  std::atomic<uint64_t> claim_{0};  // gen << 32 | next chunk to claim
  std::atomic<int64_t> done_{0};    // chunks of the current job finished
  std::vector<std::thread> workers_;  // touched under run_mu_ only
};

}  // namespace

int ParallelThreads() { return std::max(1, at::get_num_threads()); }

namespace internal {

bool RunsSerially(int64_t range, int64_t grain) {
  return t_in_chunk || range <= std::max<int64_t>(1, grain) || ParallelThreads() <= 1;
}

void ParallelForImpl(int64_t begin, int64_t end, int64_t grain, ChunkFn fn, void* ctx) {
  const int64_t range = end - begin;
  const int threads = ParallelThreads();
  const int64_t chunks =
      std::min<int64_t>(threads, (range + std::max<int64_t>(1, grain) - 1) / std::max<int64_t>(1, grain));
  const int64_t chunk = (range + chunks - 1) / chunks;
  if (chunks <= 1 || !Pool::Get().Run(static_cast<int>(std::min<int64_t>(threads, chunks)), begin,
                                      end, chunk, (range + chunk - 1) / chunk, fn, ctx)) {
    fn(ctx, begin, end);
  }
}

}  // namespace internal
}  // namespace llmq
