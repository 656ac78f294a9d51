// Admin endpoint helpers for integration tests: the endpoint's port from the proxy's log, HTTP
// requests made with curl (a real, independent client), Prometheus samples read from a scrape,
// and jq (an independent JSON parser) run over text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "test/integration/harness.hpp"

namespace spliceproxy::test {

// The port of "admin listening on 127.0.0.1:PORT" in the proxy's stderr; throws if absent.
std::uint16_t admin_port(const ProxyProcess& proxy);

struct HttpReply {
  int status = 0;  // 0: curl failed (its stderr is in body)
  std::string body;
};

// `curl -X METHOD http://127.0.0.1:PORT/PATH`.
HttpReply http_request(std::uint16_t port, std::string_view path, std::string_view method = "GET");

// `curl -X POST` of the JSON `body`, with `Authorization: Bearer TOKEN` when `token` is set.
HttpReply http_post_json(std::uint16_t port, std::string_view path, const std::string& body,
                         const std::string& token = "");

// The value of the sample `series` (`name` or `name{labels}` exactly as rendered) in `text`.
std::optional<std::uint64_t> metric_value(const std::string& text, std::string_view series);

// Runs `jq ARGS...` over `input` (written to a temp file); returns its result.
CommandResult run_jq(const std::string& input, const std::vector<std::string>& args);

// Runs `promtool check metrics` over `text`; returns its result.
CommandResult run_promtool_check(const std::string& text);

}  // namespace spliceproxy::test
