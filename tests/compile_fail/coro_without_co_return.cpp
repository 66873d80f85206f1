// expect: return-type
// A function declared to return eddy::coro<T> with no co_await or co_return is an ordinary
// function, and falling off its end is undefined behaviour (at run time: SIGILL, or an empty
// coro). Programs that link eddy build with -Werror=return-type, so it does not compile.
#include <eddy/eddy.hpp>

eddy::coro<int> compute() {
  int answer = 42;
  static_cast<void>(answer);  // meant: co_return answer;
}

int main() { return eddy::run(compute()); }
