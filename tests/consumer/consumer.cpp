#include <eddy/eddy.hpp>
#include <chrono>
eddy::coro<int> answer() { co_await eddy::sleep(std::chrono::milliseconds(1)); co_return 42; }
int main() { return eddy::run(answer()) == 42 ? 0 : 1; }
