// echo: answers with the request body and its content type.
#include <kubefn/function.hpp>

kubefn::Response echo(const kubefn::Event& event, kubefn::Context&) {
  kubefn::Response r;
  r.body.assign(event.data);
  r.headers.emplace_back("content-type", event.content_type.empty()
                                             ? std::string("application/octet-stream")
                                             : std::string(event.content_type));
  return r;
}
KUBEFN_HANDLER(echo);
