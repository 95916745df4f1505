#define _GNU_SOURCE
#include "CDescriptors.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

int storm_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

int storm_accept_cloexec(int listener) {
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

int storm_pipe_cloexec(int ends[2]) {
    return pipe2(ends, O_CLOEXEC);
}
