/**
 * @file jgather.hpp
 * @brief Umbrella header: the whole core API, free of GLib, libnice and gloox types.
 *
 * Adapters live in their own headers: jgather/glib.hpp.
 */
#pragma once

#include <jgather/address.hpp>
#include <jgather/bases.hpp>
#include <jgather/candidate.hpp>
#include <jgather/export.hpp>
#include <jgather/gatherer.hpp>
#include <jgather/ice_servers.hpp>
#include <jgather/loop.hpp>
#include <jgather/network.hpp>
#include <jgather/result.hpp>
#include <jgather/s5b.hpp>
#include <jgather/source.hpp>
#include <jgather/sources/external.hpp>
#include <jgather/sources/stun.hpp>
#include <jgather/xep0065.hpp>
#include <jgather/xep0176.hpp>
#include <jgather/xep0260.hpp>
