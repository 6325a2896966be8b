#include "ctl/json.h"

#include <gtest/gtest.h>

namespace trestle::ctl {
namespace {

TEST(Json, ParsesAndDumpsEveryKind) {
  auto j = Json::parse(R"( {"a": [1, -2, 3.5, 1e3, true, false, null], "b": "x\"y\\z\n", "c": {}} )");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_TRUE(j.value()["a"].as_array()[0].is_integer());
  EXPECT_EQ(j.value()["a"].as_array()[1].as_integer(), -2);
  EXPECT_TRUE(j.value()["a"].as_array()[2].is_real());
  EXPECT_TRUE(j.value()["a"].as_array()[3].is_real());
  EXPECT_EQ(j.value()["b"].as_string(), "x\"y\\z\n");
  EXPECT_EQ(j.value().dump(), R"({"a":[1,-2,3.5,1000.0,true,false,null],"b":"x\"y\\z\n","c":{}})");
  auto back = Json::parse(j.value().dump());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), j.value());
}

TEST(Json, UnicodeEscapes) {
  auto j = Json::parse(R"(["\u00e9\u20ac\ud83d\ude00", "\u0001"])");
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ(j.value().as_array()[0].as_string(), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  EXPECT_EQ(j.value().as_array()[1].dump(), "\"\\u0001\"");
  EXPECT_FALSE(Json::parse(R"(["\ud83d"])").ok());
  EXPECT_FALSE(Json::parse(R"(["\uzzzz"])").ok());
}

TEST(Json, RejectsMalformedWithAPosition) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "{1:2}", "01", "1.", "-", "\"abc",
                          "tru", "[1] x", "{\"a\":1,}", "\"a\tb\"", "1e"}) {
    auto r = Json::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("at byte"), std::string::npos);
    }
  }
  std::string deep(5000, '[');
  EXPECT_FALSE(Json::parse(deep).ok());
}

TEST(Json, LargeIntegersStayExactOrBecomeReal) {
  EXPECT_EQ(Json::parse("9223372036854775807").value().as_integer(), INT64_MAX);
  EXPECT_TRUE(Json::parse("92233720368547758070").value().is_real());
}

TEST(JsonSplitter, SplitsAStreamAcrossChunks) {
  JsonSplitter s;
  auto a = s.feed(R"({"id":1,"s":"}{"} [1,)");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0], R"({"id":1,"s":"}{"})");
  auto b = s.feed(R"(2]{"x":"\"]"})");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 2u);
  EXPECT_EQ((*b)[0], "[1,2]");  // whitespace between messages is dropped
  EXPECT_EQ((*b)[1], R"({"x":"\"]"})");
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(JsonSplitter, RejectsBytesThatStartNoMessage) {
  JsonSplitter s;
  EXPECT_FALSE(s.feed("hello").ok());
}

}  // namespace
}  // namespace trestle::ctl
