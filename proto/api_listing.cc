#include "proto/api_listing.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "farm/v1/agent.pb.h"
#include "farm/v1/common.pb.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::ServiceDescriptor;

const char* const kFarmFiles[] = {
    "farm/v1/common.proto",
    "farm/v1/agent.proto",
    "farm/v1/controller.proto",
};

// Makes sure the generated descriptors of every file are in the pool.
void LinkDescriptors() {
  (void)farm::v1::KvmCapability::descriptor();
  (void)farm::v1::GetStatusRequest::descriptor();
  (void)farm::v1::GetMatrixRequest::descriptor();
}

std::string FieldType(const FieldDescriptor* field) {
  if (field->is_map()) {
    return absl::StrCat("map<", FieldType(field->message_type()->map_key()), ", ",
                        FieldType(field->message_type()->map_value()), ">");
  }
  switch (field->type()) {
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP:
      return field->message_type()->full_name();
    case FieldDescriptor::TYPE_ENUM:
      return field->enum_type()->full_name();
    default:
      return field->type_name();
  }
}

void DescribeEnum(const EnumDescriptor* e, std::string* out) {
  absl::StrAppend(out, "enum ", e->full_name(), "\n");
  for (int i = 0; i < e->value_count(); ++i) {
    absl::StrAppend(out, "  ", e->value(i)->name(), " = ", e->value(i)->number(), "\n");
  }
}

void DescribeMessage(const Descriptor* m, std::string* out) {
  if (m->options().map_entry()) return;
  absl::StrAppend(out, "message ", m->full_name(), "\n");
  for (int i = 0; i < m->field_count(); ++i) {
    const FieldDescriptor* f = m->field(i);
    std::string label;
    if (f->is_map()) {
    } else if (f->is_repeated()) {
      label = "repeated ";
    } else if (f->has_optional_keyword()) {
      label = "optional ";
    }
    absl::StrAppend(out, "  ", label, FieldType(f), " ", f->name(), " = ", f->number());
    if (f->real_containing_oneof() != nullptr) {
      absl::StrAppend(out, " [oneof ", f->real_containing_oneof()->name(), "]");
    }
    absl::StrAppend(out, "\n");
  }
  for (int i = 0; i < m->enum_type_count(); ++i) DescribeEnum(m->enum_type(i), out);
  for (int i = 0; i < m->nested_type_count(); ++i) {
    DescribeMessage(m->nested_type(i), out);
  }
}

void DescribeService(const ServiceDescriptor* s, std::string* out) {
  absl::StrAppend(out, "service ", s->full_name(), "\n");
  for (int i = 0; i < s->method_count(); ++i) {
    const auto* method = s->method(i);
    absl::StrAppend(out, "  rpc ", method->name(), "(", method->client_streaming() ? "stream " : "",
                    method->input_type()->full_name(), ") returns (",
                    method->server_streaming() ? "stream " : "", method->output_type()->full_name(),
                    ")\n");
  }
}

// "HypervisorKind" -> "HYPERVISOR_KIND".
std::string UpperSnake(const std::string& camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    const char c = camel[i];
    if (std::isupper(static_cast<unsigned char>(c)) && i > 0) out += '_';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

void CheckEnum(const EnumDescriptor* e, std::vector<std::string>* problems) {
  const std::string prefix = UpperSnake(e->name()) + "_";
  if (e->value(0)->number() != 0 || e->value(0)->name() != prefix + "UNSPECIFIED") {
    problems->push_back(
        absl::StrCat(e->full_name(), ": first value must be ", prefix, "UNSPECIFIED = 0"));
  }
  for (int i = 0; i < e->value_count(); ++i) {
    if (!absl::StartsWith(e->value(i)->name(), prefix)) {
      problems->push_back(
          absl::StrCat(e->full_name(), ".", e->value(i)->name(), ": must start with ", prefix));
    }
  }
}

void CheckMessageEnums(const Descriptor* m, std::vector<std::string>* problems) {
  for (int i = 0; i < m->enum_type_count(); ++i) CheckEnum(m->enum_type(i), problems);
  for (int i = 0; i < m->nested_type_count(); ++i) {
    CheckMessageEnums(m->nested_type(i), problems);
  }
}

const FileDescriptor* FindFile(const char* name) {
  LinkDescriptors();
  return google::protobuf::DescriptorPool::generated_pool()->FindFileByName(name);
}

}  // namespace

std::string DescribeFarmApi() {
  std::string out;
  for (const char* name : kFarmFiles) {
    const FileDescriptor* file = FindFile(name);
    if (file == nullptr) {
      absl::StrAppend(&out, "file ", name, " MISSING\n");
      continue;
    }
    absl::StrAppend(&out, "file ", file->name(), " package ", file->package(), "\n");
    for (int i = 0; i < file->enum_type_count(); ++i) {
      DescribeEnum(file->enum_type(i), &out);
    }
    for (int i = 0; i < file->message_type_count(); ++i) {
      DescribeMessage(file->message_type(i), &out);
    }
    for (int i = 0; i < file->service_count(); ++i) DescribeService(file->service(i), &out);
  }
  return out;
}

std::vector<std::string> CheckEnumRules() {
  std::vector<std::string> problems;
  for (const char* name : kFarmFiles) {
    const FileDescriptor* file = FindFile(name);
    if (file == nullptr) {
      problems.push_back(absl::StrCat(name, " is not linked"));
      continue;
    }
    for (int i = 0; i < file->enum_type_count(); ++i) {
      CheckEnum(file->enum_type(i), &problems);
    }
    for (int i = 0; i < file->message_type_count(); ++i) {
      CheckMessageEnums(file->message_type(i), &problems);
    }
  }
  return problems;
}

}  // namespace kvmfarm
