// eddy's synchronization primitives for tasks (asyncio's Lock, Event, Condition, Semaphore,
// BoundedSemaphore, Barrier). Queues are in eddy/queue.hpp.
#pragma once

#include "eddy/sync/barrier.hpp"
#include "eddy/sync/condition.hpp"
#include "eddy/sync/event.hpp"
#include "eddy/sync/lock.hpp"
#include "eddy/sync/semaphore.hpp"
