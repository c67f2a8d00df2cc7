/* loop_impl.h - private contract between loop.c and its implementations
 * (loop_event.c, loop_uv.c). Not for users of pl_loop. */
#ifndef PL_LOOP_IMPL_H
#define PL_LOOP_IMPL_H
#include "loop.h"

/* Every implementation's struct pl_watch and struct pl_timer begin with this
 * head, so loop.c can find the ops of a watch or timer. */
struct pl_loop_head {
	struct pl_loop *loop;
};

/* Flag in io()'s events: fn is really a pl_loop_fn (from pl_loop_watch) and
 * must be cast back and called as fn(arg). */
#define PL_LOOP_PLAIN 0x100

#define PL_LOOP_HEAD_LOOP(p) (((const struct pl_loop_head *)(const void *)(p))->loop)

#endif
