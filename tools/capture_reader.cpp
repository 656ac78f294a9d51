// capture_reader: lists the TCP flows of a capture (addresses, payload bytes each way, gaps in
// the sequence numbers) and extracts one direction of one flow to a file.
//
//   capture_reader FILE                              list flows, numbered from 0
//   capture_reader FILE N client_to_backend|backend_to_client OUT
//
// Reads with libpcap (pcap and pcapng) through tools/capture, as spliceproxy-replay does; see
// flow_table.hpp for who the client is and what a gap is. Extraction writes the direction's
// captured bytes in sequence order, gaps closed up.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tools/capture/capture_set.hpp"

namespace {

using namespace spliceproxy::capture;

void list(const std::vector<Flow>& flows) {
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const Flow& f = flows[i];
    std::printf(
        "%zu %s -> %s client_to_backend=%llu gaps=%llu backend_to_client=%llu gaps=%llu %s%s\n", i,
        f.client.c_str(), f.backend.c_str(), static_cast<unsigned long long>(f.dir[0].bytes),
        static_cast<unsigned long long>(f.dir[0].gaps),
        static_cast<unsigned long long>(f.dir[1].bytes),
        static_cast<unsigned long long>(f.dir[1].gaps),
        f.rst   ? "reset"
        : f.fin ? "closed"
                : "open",
        f.start_captured() ? "" : " start_not_captured");
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: capture_reader FILE\n"
               "       capture_reader FILE N client_to_backend|backend_to_client OUT\n");
  return 2;
}

struct Extraction {
  std::size_t flow = 0;
  int direction = 0;
  std::FILE* out = nullptr;
};

// Parses the extraction arguments and creates OUT; returns the exit status on failure.
int parse_extraction(char** argv, Extraction& x) {
  char* end = nullptr;
  x.flow = std::strtoull(argv[2], &end, 10);
  if (*argv[2] == '\0' || *end != '\0') return usage();
  if (std::strcmp(argv[3], "backend_to_client") == 0) {
    x.direction = kBackendToClient;
  } else if (std::strcmp(argv[3], "client_to_backend") != 0) {
    return usage();
  }
  x.out = std::fopen(argv[4], "wb");
  if (x.out) return 0;
  std::fprintf(stderr, "capture_reader: cannot create %s: %s\n", argv[4], std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 5) return usage();
  const bool extract = argc == 5;
  Extraction x;
  if (extract) {
    if (const int status = parse_extraction(argv, x)) return status;
  }
  FlowTable table;
  int status = 0;
  try {
    read_captures({argv[1]}, table, [&](const FlowTable::Placed& placed, const Segment&) {
      if (x.out && !placed.payload.empty() && placed.flow == x.flow &&
          placed.direction == x.direction)
        std::fwrite(placed.payload.data(), 1, placed.payload.size(), x.out);
    });
  } catch (const CaptureError& error) {
    std::fprintf(stderr, "capture_reader: %s\n", error.what());
    status = 1;
  }
  if (x.out && std::fclose(x.out) != 0) status = 1;
  if (extract && x.flow >= table.flows().size()) {
    std::fprintf(stderr, "capture_reader: no flow %zu (%zu flows)\n", x.flow, table.flows().size());
    return 1;
  }
  if (!extract) list(table.flows());
  return status;
}
