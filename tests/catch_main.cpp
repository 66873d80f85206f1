// Catch2 v2's main(), compiled once into eddy_catch_main and linked into every test.
// (With Catch2 v3 the build uses Catch2::Catch2WithMain instead and skips this file.)
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
