// Reading and writing protocol buffer files (prototxt text, .caffemodel / .binaryproto binary) for any
// message type. Readers turn every failure into one condense::Error that names the file and, for text,
// the line and column of the problem: a field the schema does not know is an error, never silently
// dropped, because a misspelled field in a prototxt would otherwise change a model without a word.
// Binary readers refuse truncated or trailing-garbage input instead of returning half a message.
// Writers replace the target atomically (see core/file_io.hpp).
#pragma once

#include <string>

namespace google::protobuf {
class Message;
}

namespace condense {

// Largest file the binary reader accepts: protobuf cannot parse a single message of 2 GiB or more.
constexpr long long kMaxBinaryProtoBytes = (1LL << 31) - 1;

// Parses protobuf text format. Errors read "path:line:column: problem", e.g.
// "lenet.prototxt:12:5: unknown field 'foo' in LayerParameter".
void ReadTextProtoFile(const std::string& path, google::protobuf::Message* message);
// The same for text already in memory; `source` stands in for the file name in errors.
void ParseTextProto(const std::string& text, const std::string& source,
                    google::protobuf::Message* message);

// Parses protobuf binary format; the whole file must be one well-formed message with all required
// fields. Errors read "path: truncated or not a <MessageName> binary proto".
void ReadBinaryProtoFile(const std::string& path, google::protobuf::Message* message);

void WriteTextProtoFile(const std::string& path, const google::protobuf::Message& message);
void WriteBinaryProtoFile(const std::string& path, const google::protobuf::Message& message);

}  // namespace condense
