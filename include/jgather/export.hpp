/**
 * @file export.hpp
 * @brief Symbol visibility for the jgather shared library.
 *
 * The library is built with hidden visibility; only symbols marked JGATHER_EXPORT form the ABI.
 */
#pragma once

#if defined(JGATHER_BUILDING_LIBRARY)
/** Marks a symbol as part of the library's public ABI. */
#define JGATHER_EXPORT __attribute__((visibility("default")))
#else
/** Marks a symbol as part of the library's public ABI. */
#define JGATHER_EXPORT
#endif
