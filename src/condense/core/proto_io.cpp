#include "condense/core/proto_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <regex>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"

namespace condense {
namespace {

using google::protobuf::Message;

struct ParserProblem {
  std::string text;
  // The offending word (unknown field name or enum value), which the parser reports only after it
  // has read past it.
  std::string culprit;
};

// Protobuf's own wording names fields with their full package path; the rewrites below keep the
// messages short and in the house style while passing anything unrecognised through unchanged.
ParserProblem RewordParserMessage(const std::string& message) {
  static const std::regex unknown_field(
      R"(Message type \"(?:[A-Za-z0-9_]+\.)*([A-Za-z0-9_]+)\" has no field named \"([^\"]*)\"\.?)");
  static const std::regex unknown_enum(
      R"(Unknown enumeration value of \"([^\"]*)\" for field \"([^\"]*)\"\.?)");
  static const std::regex missing_required(R"(Message missing required fields: (.*))");
  std::smatch match;
  if (std::regex_match(message, match, unknown_field)) {
    return {StrCat("unknown field '", match[2].str(), "' in ", match[1].str()), match[2].str()};
  }
  if (std::regex_match(message, match, unknown_enum)) {
    return {StrCat("unknown value '", match[1].str(), "' for field '", match[2].str(), "'"),
            match[1].str()};
  }
  if (std::regex_match(message, match, missing_required)) {
    return {StrCat("missing required field(s) ", match[1].str()), ""};
  }
  return {message, ""};
}

// The 0-based line `line` of `text` ("" when out of range).
std::string LineOf(const std::string& text, int line) {
  size_t start = 0;
  for (int i = 0; i < line; ++i) {
    start = text.find('\n', start);
    if (start == std::string::npos) return "";
    ++start;
  }
  const size_t end = text.find('\n', start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Moves (line, column) back to the start of the last `word` at or before it, looking at most a few
// lines up; leaves them unchanged when the word is not found.
void MoveToWord(const std::string& text, const std::string& word, int* line, int* column) {
  constexpr int kLinesToSearch = 4;
  for (int candidate = *line; candidate >= 0 && candidate > *line - kLinesToSearch; --candidate) {
    const std::string content = LineOf(text, candidate);
    const size_t limit = candidate == *line ? static_cast<size_t>(*column) : std::string::npos;
    const size_t found = content.rfind(word, limit);
    if (found != std::string::npos) {
      *line = candidate;
      *column = static_cast<int>(found);
      return;
    }
  }
}

// Keeps the first problem the text parser reports; later ones are usually consequences of it.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (has_error_) return;
    has_error_ = true;
    line_ = line;
    column_ = column;
    message_ = message;
  }

  bool has_error() const { return has_error_; }

  // "source:line:column: problem"; the position is left out when the parser gave none (problems
  // found only after the whole text was read, such as missing required fields). An unknown field or
  // enum value is reported where it starts, so the position points at the word to fix.
  std::string Describe(const std::string& source, const std::string& text) const {
    const ParserProblem problem = RewordParserMessage(message_);
    if (line_ < 0) return StrCat(source, ": ", problem.text);
    int line = line_;
    int column = column_;
    if (!problem.culprit.empty()) MoveToWord(text, problem.culprit, &line, &column);
    return StrCat(source, ":", line + 1, ":", column + 1, ": ", problem.text);
  }

 private:
  bool has_error_ = false;
  int line_ = -1;
  int column_ = -1;
  std::string message_;
};

// Closes a file descriptor on every path out of the binary reader.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

void ParseTextProto(const std::string& text, const std::string& source, Message* message) {
  CONDENSE_CHECK(text.size() <= static_cast<size_t>(INT_MAX), source, ": text of ", text.size(),
                 " bytes is too large to parse");
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  message->Clear();
  const bool parsed = parser.ParseFromString(text, message);
  if (!parsed || errors.has_error()) {
    if (errors.has_error()) Fail(errors.Describe(source, text));
    Fail(source, ": not a valid ", message->GetDescriptor()->name(), " in text format");
  }
}

void ReadTextProtoFile(const std::string& path, Message* message) {
  ParseTextProto(ReadFileToString(path, INT_MAX), path, message);
}

void ReadBinaryProtoFile(const std::string& path, Message* message) {
  const std::string type_name = message->GetDescriptor()->name();
  CONDENSE_CHECK(!IsDirectory(path), path, ": is a directory, not a ", type_name, " file");
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  CONDENSE_CHECK(fd.get() >= 0, path, ": cannot open (", std::strerror(errno), ")");
  struct stat info;
  CONDENSE_CHECK(::fstat(fd.get(), &info) == 0, path, ": cannot stat (", std::strerror(errno), ")");
  const long long size = static_cast<long long>(info.st_size);
  CONDENSE_CHECK(size <= kMaxBinaryProtoBytes, path, ": is ", size,
                 " bytes; a binary proto must be smaller than 2 GiB");

  google::protobuf::io::FileInputStream file_stream(fd.get());
  bool parsed = false;
  int consumed = -1;
  {
    google::protobuf::io::CodedInputStream coded(&file_stream);
    // The default limit is far below real model sizes; the file size check above bounds it instead.
    coded.SetTotalBytesLimit(INT_MAX);
    message->Clear();
    parsed = message->ParsePartialFromCodedStream(&coded) && coded.ConsumedEntireMessage();
    consumed = coded.CurrentPosition();
  }
  CONDENSE_CHECK(file_stream.GetErrno() == 0, path, ": read failed (",
                 std::strerror(file_stream.GetErrno()), ")");
  CONDENSE_CHECK(parsed && consumed == size, path, ": truncated or not a ", type_name,
                 " binary proto");
  CONDENSE_CHECK(message->IsInitialized(), path, ": truncated or not a ", type_name,
                 " binary proto (missing required field(s) ", message->InitializationErrorString(),
                 ")");
}

void WriteTextProtoFile(const std::string& path, const Message& message) {
  std::string text;
  CONDENSE_CHECK(google::protobuf::TextFormat::PrintToString(message, &text), path,
                 ": cannot print ", message.GetDescriptor()->name(), " as text");
  WriteFileAtomically(path, text);
}

void WriteBinaryProtoFile(const std::string& path, const Message& message) {
  const size_t size = message.ByteSizeLong();
  CONDENSE_CHECK(size <= static_cast<size_t>(kMaxBinaryProtoBytes), path, ": the ",
                 message.GetDescriptor()->name(), " would be ", size,
                 " bytes; binary protos must be smaller than 2 GiB");
  CONDENSE_CHECK(message.IsInitialized(), path, ": cannot write ", message.GetDescriptor()->name(),
                 ", missing required field(s) ", message.InitializationErrorString());
  std::string bytes;
  CONDENSE_CHECK(message.SerializeToString(&bytes), path, ": cannot serialize ",
                 message.GetDescriptor()->name());
  WriteFileAtomically(path, bytes);
}

}  // namespace condense
