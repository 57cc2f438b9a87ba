/* version.h - gpufrac's version, one definition for the programs, their
 * `version` output and the build-info metrics (CMakeLists.txt's project
 * VERSION says the same). */
#ifndef GF_VERSION_H
#define GF_VERSION_H

#define GF_VERSION "0.1.0"

#endif
