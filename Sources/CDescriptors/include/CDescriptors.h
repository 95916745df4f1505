#ifndef STORM_CDESCRIPTORS_H
#define STORM_CDESCRIPTORS_H

#include <spawn.h>

/// GNU calls that Swift's Glibc module does not declare (it is built without _GNU_SOURCE), for descriptors that
/// no child process may inherit.

/// Adds a spawn action that closes every descriptor from `lowest` up, after the actions added before it.
int storm_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);

/// accept4 with SOCK_CLOEXEC: the accepted connection is closed in any program this process executes.
int storm_accept_cloexec(int listener);

/// pipe2 with O_CLOEXEC: both ends are closed in any program this process executes.
int storm_pipe_cloexec(int ends[2]);

#endif
