// A fully static program that exercises the libraries farm-agent links (gRPC,
// protobuf with its JSON mapping, abseil, libcrypto, zlib): proof that the static
// link line works before the real agent needs it on Android.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "farm/v1/common.pb.h"

int main() {
  farm::v1::Check check;
  check.set_name("static.link");
  check.set_outcome(farm::v1::OUTCOME_PASS);
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(check, &json).ok()) return 1;

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  const std::string data = "kvmfarm";
  if (EVP_Digest(data.data(), data.size(), digest, &digest_len, EVP_sha256(), nullptr) != 1) {
    return 1;
  }
  const uLong crc =
      crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
  // Creating a channel pulls in gRPC core; dialing an IP literal needs no resolver.
  auto channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  std::printf("%s\n", absl::StrCat(json, " sha256_len=", digest_len, " crc32=", crc,
                                   " channel=", channel != nullptr ? "ok" : "null")
                          .c_str());
  return 0;
}
