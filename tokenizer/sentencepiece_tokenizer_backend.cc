// No Abseil header may be included here, and no libsentencepiece symbol may be referred to
// at link time: see sentencepiece_tokenizer_backend.h.
#include "tokenizer/sentencepiece_tokenizer_backend.h"

#include <dlfcn.h>
#include <sentencepiece_processor.h>

#include <new>
#include <string_view>

namespace llmq {
namespace {

constexpr char kLibrary[] = "libsentencepiece.so.0";
#if defined(__SANITIZE_ADDRESS__)
// The sanitizer runtime refuses RTLD_DEEPBIND; sanitizer builds of processes that also
// load libprotobuf will then hit the clash described in the header.
constexpr int kOpenFlags = RTLD_NOW | RTLD_LOCAL;
#else
constexpr int kOpenFlags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif

// sentencepiece::util::Status is one pointer (null when OK) with an out-of-line destructor.
// LibraryStatus has the same layout and is also returned through a hidden pointer (it has
// a non-trivial destructor), so a call returning util::Status can return it instead; its
// destructor calls the library's.
struct LibraryStatus {
  void* rep = nullptr;
  ~LibraryStatus();
};

struct Library {
  void* handle = nullptr;
  std::string error;
  void (*construct_processor)(void*) = nullptr;
  void (*destroy_status)(LibraryStatus*) = nullptr;
  const char* (*status_message)(const LibraryStatus*) = nullptr;

  Library() {
    handle = ::dlopen(kLibrary, kOpenFlags);
    if (handle == nullptr) {
      error = ::dlerror();
      return;
    }
    construct_processor = reinterpret_cast<void (*)(void*)>(
        ::dlsym(handle, "_ZN13sentencepiece22SentencePieceProcessorC1Ev"));
    destroy_status = reinterpret_cast<void (*)(LibraryStatus*)>(
        ::dlsym(handle, "_ZN13sentencepiece4util6StatusD1Ev"));
    status_message = reinterpret_cast<const char* (*)(const LibraryStatus*)>(
        ::dlsym(handle, "_ZNK13sentencepiece4util6Status13error_messageEv"));
    if (!construct_processor || !destroy_status || !status_message) {
      error = std::string(kLibrary) + " lacks the expected C++ symbols";
      handle = nullptr;
    }
  }
};

// Opened once and never closed: processors may live until exit.
const Library& TheLibrary() {
  static const Library* library = new Library();
  return *library;
}

LibraryStatus::~LibraryStatus() {
  if (rep != nullptr) TheLibrary().destroy_status(this);
}

// A virtual method of SentencePieceProcessor that returns util::Status, called so that it
// returns a LibraryStatus. Calls through these pointers always dispatch through the
// library's vtable: the compiler cannot inline (or speculatively devirtualize into) a
// header body, which would refer to the library's symbols at link time.
template <typename... Args>
using StatusMethod = LibraryStatus (sentencepiece::SentencePieceProcessor::*)(Args...);
template <typename... Args>
using RealStatusMethod =
    sentencepiece::util::Status (sentencepiece::SentencePieceProcessor::*)(Args...);
template <typename... Args>
using RealConstStatusMethod =
    sentencepiece::util::Status (sentencepiece::SentencePieceProcessor::*)(Args...) const;

template <typename... Args>
StatusMethod<Args...> AsLibraryStatus(RealStatusMethod<Args...> method) {
  return reinterpret_cast<StatusMethod<Args...>>(method);
}
template <typename... Args>
StatusMethod<Args...> AsLibraryStatus(RealConstStatusMethod<Args...> method) {
  return reinterpret_cast<StatusMethod<Args...>>(method);
}

const auto kLoad = AsLibraryStatus<std::string_view>(&sentencepiece::SentencePieceProcessor::Load);
const auto kEncodeIds = AsLibraryStatus<std::string_view, std::vector<int>*>(
    &sentencepiece::SentencePieceProcessor::Encode);
const auto kDecodeIds = AsLibraryStatus<const std::vector<int>&, std::string*>(
    &sentencepiece::SentencePieceProcessor::Decode);

}  // namespace

std::unique_ptr<SentencePieceBackend> SentencePieceBackend::Load(const std::string& path,
                                                                 std::string* error) {
  const Library& library = TheLibrary();
  if (library.handle == nullptr) {
    *error = "cannot load " + std::string(kLibrary) + ": " + library.error;
    return nullptr;
  }
  void* storage = ::operator new(sizeof(sentencepiece::SentencePieceProcessor));
  library.construct_processor(storage);
  auto* processor = static_cast<sentencepiece::SentencePieceProcessor*>(storage);
  const LibraryStatus status = (processor->*kLoad)(path);
  if (status.rep != nullptr) {
    *error = library.status_message(&status);
    delete processor;  // virtual destructor: runs in the library
    return nullptr;
  }
  return std::unique_ptr<SentencePieceBackend>(new SentencePieceBackend(processor));
}

SentencePieceBackend::SentencePieceBackend(sentencepiece::SentencePieceProcessor* processor)
    : processor_(processor) {}

SentencePieceBackend::~SentencePieceBackend() { delete processor_; }

// Encode and Decode fail only for an unloaded model, which Load rules out.
std::vector<int> SentencePieceBackend::Encode(const char* text, size_t size) const {
  std::vector<int> ids;
  (processor_->*kEncodeIds)(std::string_view(text, size), &ids);
  return ids;
}

std::string SentencePieceBackend::Decode(const std::vector<int>& ids) const {
  // libsentencepiece fails the whole call on an out-of-range id; drop such ids instead.
  std::vector<int> valid;
  valid.reserve(ids.size());
  const int size = processor_->GetPieceSize();
  for (int id : ids) {
    if (id >= 0 && id < size) valid.push_back(id);
  }
  std::string text;
  (processor_->*kDecodeIds)(valid, &text);
  return text;
}

int SentencePieceBackend::vocab_size() const { return processor_->GetPieceSize(); }
int SentencePieceBackend::bos_id() const { return processor_->bos_id(); }
int SentencePieceBackend::eos_id() const { return processor_->eos_id(); }

}  // namespace llmq
