#include "watch_stream.hpp"

#include "table.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kLivenessCheck{200};

}  // namespace

WatchStream::WatchStream(ObjectStore& store, ResourceType type, WatchParams params,
                         std::atomic<std::size_t>& open_counter)
    : store_(store),
      type_(std::move(type)),
      params_(std::move(params)),
      open_counter_(open_counter) {
  ++open_counter_;
  end_ = Clock::now() + params_.timeout;
  next_bookmark_ = Clock::now() + params_.bookmark_interval;
  // Taken now, before the response headers go out, so that a client which has seen the
  // headers knows every later write and drop_watches() applies to this stream.
  start();
}

WatchStream::~WatchStream() {
  --open_counter_;
}

bool WatchStream::matches(const json& object) const {
  if (!object.is_object()) return false;
  static const json kEmpty = json::object();
  const auto m = object.find("metadata");
  const json& meta = m != object.end() && m->is_object() ? *m : kEmpty;
  if (!params_.ns.empty()) {
    const auto n = meta.find("namespace");
    if (n == meta.end() || !n->is_string() || n->get_ref<const std::string&>() != params_.ns)
      return false;
  }
  const auto l = meta.find("labels");
  return params_.labels.matches(l != meta.end() ? *l : kEmpty) && params_.fields.matches(object);
}

void WatchStream::push(const std::string& type, const json& object,
                       const SerializedDocument* serialized) {
  // Sent as stored: the line is spliced around the object's one serialization, byte for byte
  // what dumping {"object": ..., "type": ...} would give (keys sort "object" before "type").
  if (serialized != nullptr && !params_.as_table && object.is_object()) {
    const auto v = object.find("apiVersion");
    const auto k = object.find("kind");
    if (v != object.end() && k != object.end() && *v == type_.api_version() && *k == type_.kind) {
      const std::string& text = serialized->text();
      std::string line;
      line.reserve(text.size() + type.size() + 24);
      line.append("{\"object\":").append(text).append(",\"type\":\"").append(type).append("\"}\n");
      pending_.push_back(std::move(line));
      return;
    }
  }
  json obj = object;
  if (obj.value("kind", "") != "Status") {
    obj["apiVersion"] = type_.api_version();
    obj["kind"] = type_.kind;
  }
  if (params_.as_table && type != "ERROR" && type != "BOOKMARK") {
    obj = make_table(type_, {obj}, obj["metadata"].value("resourceVersion", ""),
                     params_.include_object, !columns_sent_);
    columns_sent_ = true;
  }
  pending_.push_back(json{{"type", type}, {"object", obj}}.dump() + "\n");
}

void WatchStream::push_bookmark(uint64_t rv, bool initial_end) {
  json meta = {{"resourceVersion", std::to_string(rv)}};
  if (initial_end) meta["annotations"] = {{"k8s.io/initial-events-end", "true"}};
  pending_.push_back(
      json{{"type", "BOOKMARK"},
           {"object",
            {{"kind", type_.kind}, {"apiVersion", type_.api_version()}, {"metadata", meta}}}}
          .dump() +
      "\n");
}

void WatchStream::start() {
  const std::string rv = params_.send_initial_events ? "" : params_.resource_version;
  auto s = store_.begin_watch(type_, rv, params_.ns);
  epoch_ = s.epoch;
  after_rv_ = s.after_rv;
  if (s.expired) {
    push("ERROR", status_body(*s.expired));
    done_ = true;
    return;
  }
  for (const auto& obj : s.initial) {
    if (matches(*obj)) push("ADDED", *obj);
  }
  if (params_.send_initial_events && params_.bookmarks) push_bookmark(after_rv_, true);
}

void WatchStream::convert(const WatchEvent& e) {
  const json& object = *e.object;
  const SerializedDocument* serialized = e.serialized.get();
  const bool now_matches = matches(object);
  const bool was_matching = e.previous && !e.previous->is_null() && matches(*e.previous);
  if (e.type == "ADDED") {
    if (now_matches) push("ADDED", object, serialized);
  } else if (e.type == "DELETED") {
    if (now_matches || was_matching) push("DELETED", object, serialized);
  } else if (now_matches && was_matching) {
    push("MODIFIED", object, serialized);
  } else if (now_matches) {
    push("ADDED", object, serialized);
  } else if (was_matching) {
    // Stopped matching: the previous content, carrying the new resourceVersion.
    json gone_obj = *e.previous;
    gone_obj["metadata"]["resourceVersion"] = std::to_string(e.rv);
    push("DELETED", gone_obj);
  }
}

std::optional<std::string> WatchStream::next(const std::function<bool()>& client_alive) {
  while (true) {
    if (!pending_.empty()) {
      std::string line = std::move(pending_.front());
      pending_.pop_front();
      return line;
    }
    if (done_) return std::nullopt;
    const auto now = Clock::now();
    if (now >= end_) {
      done_ = true;
      continue;
    }
    auto deadline = std::min(end_, now + kLivenessCheck);
    if (params_.bookmarks) deadline = std::min(deadline, next_bookmark_);
    const auto poll = store_.poll_watch(type_.group_resource(), after_rv_, epoch_, deadline);
    if (poll.ended) {
      done_ = true;
      continue;
    }
    if (poll.expired) {
      push("ERROR", status_body(gone("too old resource version: " + std::to_string(after_rv_))));
      done_ = true;
      continue;
    }
    for (const auto& e : poll.events)
      convert(e);
    after_rv_ = poll.rv_now;
    if (params_.bookmarks && Clock::now() >= next_bookmark_) {
      push_bookmark(after_rv_, false);
      next_bookmark_ = Clock::now() + params_.bookmark_interval;
    }
    if (pending_.empty() && !client_alive()) done_ = true;
  }
}

}  // namespace kubefn::emulator
