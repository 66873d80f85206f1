// eddy: Python's asyncio for C++20. Including this gives you everything.
#pragma once

#include "eddy/coro.hpp"
#include "eddy/errors.hpp"
#include "eddy/exception_context.hpp"
#include "eddy/future.hpp"
#include "eddy/loop.hpp"
#include "eddy/loop_options.hpp"
#include "eddy/net/address.hpp"
#include "eddy/net/socket.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
