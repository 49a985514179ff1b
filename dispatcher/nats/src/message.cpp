#include "kubefn/nats/message.hpp"

#include <algorithm>
#include <cctype>

namespace kubefn::nats {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

void Headers::add(std::string name, std::string value) {
  entries_.emplace_back(std::move(name), std::move(value));
}

void Headers::set(std::string name, std::string value) {
  remove(name);
  add(std::move(name), std::move(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(entries_, [&](const Entry& e) { return same_name(e.first, name); });
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [n, v] : entries_)
    if (same_name(n, name)) return std::string_view(v);
  return std::nullopt;
}

std::vector<std::string_view> Headers::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [n, v] : entries_)
    if (same_name(n, name)) out.emplace_back(v);
  return out;
}

}  // namespace kubefn::nats
