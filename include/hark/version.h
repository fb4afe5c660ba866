/* version.h — Hark's release version (semantic versioning). */
#ifndef HARK_VERSION_H
#define HARK_VERSION_H
#define HARK_VERSION "0.1.0"
#endif
