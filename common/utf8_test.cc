#include "common/utf8.h"

#include <initializer_list>
#include <string>

#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

const std::string kFffd(kUtf8Replacement);

TEST(ValidUtf8Test, ValidTextIsUnchanged) {
  for (const std::string& text :
       std::initializer_list<std::string>{"", "Snapdragon 8 Gen 3", "caf\xC3\xA9", "\xE2\x82\xAC 5",
                                          "\xF0\x9F\x98\x80", std::string("nul\0inside", 10)}) {
    EXPECT_EQ(ValidUtf8(text), text);
  }
}

TEST(ValidUtf8Test, ATruncatedSequenceDoesNotEatTheNextLetter) {
  EXPECT_EQ(ValidUtf8("\xC3"
                      "a"),
            kFffd + "a");
  EXPECT_EQ(ValidUtf8("\xE2\x82"
                      "b"),
            kFffd + "b");
  EXPECT_EQ(ValidUtf8("x\xF0\x9F\x98"), "x" + kFffd);
}

TEST(ValidUtf8Test, EveryBadByteShows) {
  EXPECT_EQ(ValidUtf8("ab\xFF"
                      "cd"),
            "ab" + kFffd + "cd");
  // E0 needs A0..BF next; 9A and 9D cannot start a character.
  EXPECT_EQ(ValidUtf8("\xE0\x9A\x9D"), kFffd + kFffd + kFffd);
  EXPECT_EQ(ValidUtf8("\x80"), kFffd);
}

TEST(ValidUtf8Test, OverlongSurrogatesAndPastTheLastCodePointAreRefused) {
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), kFffd + kFffd);                          // overlong '/'
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);              // U+D800
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // U+110000
  EXPECT_EQ(ValidUtf8("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");             // U+10FFFF
}

}  // namespace
}  // namespace kvmfarm
