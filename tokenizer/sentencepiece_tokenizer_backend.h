// A thin wrapper over libsentencepiece, which is loaded at run time, not linked.
//
// Debian's libsentencepiece.so.0 carries its own copy of protobuf-lite and exports those
// symbols. Linked into a process that also loads libprotobuf.so (libtorch and gRPC do),
// the two copies interpose on each other and the process crashes during static
// initialization, before main. So the library is opened with dlopen(RTLD_LOCAL |
// RTLD_DEEPBIND): it binds to its own protobuf copy and hides it from everyone else. Its
// C++ API is reached through virtual calls and three symbols looked up by name; nothing
// here refers to a libsentencepiece symbol at link time.
//
// libsentencepiece's header also defines `absl::string_view` as std::string_view, which
// clashes with Abseil's own (Debian's Abseil is built without that alias), so it is
// included only in the .cc and this header uses standard types only.
#ifndef LLMQ_TOKENIZER_SENTENCEPIECE_TOKENIZER_BACKEND_H_
#define LLMQ_TOKENIZER_SENTENCEPIECE_TOKENIZER_BACKEND_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace llmq {

class SentencePieceBackend {
 public:
  // Loads a SentencePiece model file; on failure returns null and sets `error`.
  static std::unique_ptr<SentencePieceBackend> Load(const std::string& path, std::string* error);
  ~SentencePieceBackend();

  // Encoding and decoding are const in libsentencepiece and safe from several threads.
  std::vector<int> Encode(const char* text, size_t size) const;
  std::string Decode(const std::vector<int>& ids) const;

  int vocab_size() const;
  int bos_id() const;  // -1 when the model has none
  int eos_id() const;

 private:
  explicit SentencePieceBackend(sentencepiece::SentencePieceProcessor* processor);
  sentencepiece::SentencePieceProcessor* processor_;  // owned
};

}  // namespace llmq

#endif  // LLMQ_TOKENIZER_SENTENCEPIECE_TOKENIZER_BACKEND_H_
