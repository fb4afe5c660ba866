/* spawn_private.h — what every vfork child of src/bot/ does before execve:
 * bots (process.c) and their ffmpeg (source_rtmp.c). These run in a vfork
 * child on the parent's memory, so they make system calls only. */
#ifndef HARK_SPAWN_PRIVATE_H
#define HARK_SPAWN_PRIVATE_H

/* Every signal to its default action, through the kernel's own call:
 * glibc's sigaction() refuses its internal signals (32, 33), and a
 * disposition inherited for those must not reach the program either. */
void spawn_child_reset_signals(void);

/* Closes every descriptor above stdio but keep (the close-on-exec status
 * pipe). Failures mean an old kernel without close_range, where O_CLOEXEC
 * is all there is. */
void spawn_child_close_fds(int keep);

/* In the parent: fd moved above 0..2 (close-on-exec), so the child's dup2
 * onto stdio cannot overwrite its own sources. Closes fd when it moves it;
 * -1 on failure. */
int spawn_fd_above_stdio(int fd);

#endif
